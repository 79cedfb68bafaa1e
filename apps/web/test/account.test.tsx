import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, test } from 'vitest';
import { fail, signedInHandlers } from './fake-api';
import { renderApp } from './render';

describe('account', () => {
  test('a password change says how many other sessions were signed out', async () => {
    const { api } = renderApp('/account', {
      ...signedInHandlers(),
      'auth.changePassword': () => ({ revoked: 2 }),
    });
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Current password'), 'old password here');
    await user.type(screen.getByLabelText('New password'), 'a much longer passphrase');
    await user.type(screen.getByLabelText('Confirm new password'), 'a much longer passphrase');
    await user.click(screen.getByRole('button', { name: 'Change password' }));
    await waitFor(() =>
      expect(
        screen.getByText('Your password was changed, and 2 other sessions were signed out.'),
      ).toBeTruthy(),
    );
    expect(api.callsTo('auth.changePassword')).toEqual([
      { currentPassword: 'old password here', newPassword: 'a much longer passphrase' },
    ]);
  });

  test('the password policy and a wrong current password show on their fields', async () => {
    let call = 0;
    renderApp('/account', {
      ...signedInHandlers(),
      'auth.changePassword': () =>
        ++call === 1
          ? fail('BAD_REQUEST', 'This password is too common.', {
              issues: [{ path: 'newPassword', message: 'This password is too common.' }],
            })
          : fail('FORBIDDEN', 'Wrong current password', { reason: 'invalid_credentials' }),
    });
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Current password'), 'old password here');
    await user.click(screen.getByRole('button', { name: 'Change password' }));
    expect(screen.getByText('Use at least 12 characters.')).toBeTruthy();
    await user.type(screen.getByLabelText('New password'), 'password1234');
    await user.type(screen.getByLabelText('Confirm new password'), 'password1234');
    await user.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByText('This password is too common.')).toBeTruthy();
    expect(screen.getByLabelText('New password').getAttribute('aria-invalid')).toBe('true');
    await user.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByText('That isn’t your current password.')).toBeTruthy();
  });

  test('turning on two-step verification shows a QR code made in the page, then confirms the code', async () => {
    const { api } = renderApp('/account', {
      ...signedInHandlers(),
      'mfa.beginEnrollment': () => ({
        secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
        otpauthUrl:
          'otpauth://totp/Tessera:ada%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Tessera',
      }),
      'mfa.confirmEnrollment': (input) =>
        (input as { code: string }).code === '123456'
          ? { enabled: true }
          : fail('FORBIDDEN', 'That code is not valid.', { reason: 'invalid_code' }),
    });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Turn on two-step verification' }));
    const qr = await screen.findByRole('img', { name: 'QR code for your authenticator app' });
    expect(qr.tagName.toLowerCase()).toBe('svg');
    expect(qr.querySelector('path')?.getAttribute('d')?.length).toBeGreaterThan(100);
    expect(screen.getByText('JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP')).toBeTruthy();

    await user.type(screen.getByLabelText('6-digit code'), '000000');
    await user.click(screen.getByRole('button', { name: 'Turn on' }));
    expect(await screen.findByText(/That code didn’t work/)).toBeTruthy();
    await user.type(screen.getByLabelText('6-digit code'), '123456');
    await user.click(screen.getByRole('button', { name: 'Turn on' }));
    expect(await screen.findByText(/Two-step verification is on/)).toBeTruthy();
    expect(api.callsTo('mfa.confirmEnrollment')).toEqual([{ code: '000000' }, { code: '123456' }]);
  });
});
