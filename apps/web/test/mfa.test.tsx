import { fireEvent, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { expect, test } from 'vitest';
import { fail, notSignedIn } from './fake-api';
import { renderApp } from './render';

const invalidCode = () => fail('UNAUTHORIZED', 'That code is not valid.', { reason: 'invalid_code' });

async function toMfaStep(verify: () => unknown) {
  const view = renderApp('/sign-in', {
    'auth.me': notSignedIn,
    'auth.login': () => ({ status: 'mfa_required' }),
    'auth.verifyMfa': verify,
    'auth.logout': () => ({ ended: false }),
  });
  const user = userEvent.setup();
  await user.type(await screen.findByLabelText('Email'), 'ada@example.com');
  await user.type(screen.getByLabelText('Password'), 'right');
  await user.click(screen.getByRole('button', { name: 'Sign in' }));
  await screen.findByRole('heading', { name: 'Two-step verification' });
  return { ...view, user };
}

test('shows the attempts left and the challenge expiry; each wrong code costs one', async () => {
  const { user, api } = await toMfaStep(invalidCode);
  expect(screen.getByText('5 attempts left')).toBeTruthy();
  expect(screen.getByText(/Expires in/).textContent).toMatch(/Expires in (10:00|9:5\d)/);

  await user.type(screen.getByLabelText('Verification code'), '123456');
  await user.click(screen.getByRole('button', { name: 'Verify' }));
  expect((await screen.findByRole('alert')).textContent).toBe('That code didn’t work. 4 attempts left.');
  expect(screen.getByText('4 attempts left')).toBeTruthy();
  expect(api.callsTo('auth.verifyMfa')).toEqual([{ code: '123456' }]);
});

test('only digits, six of them, are sent', async () => {
  const { user, api } = await toMfaStep(invalidCode);
  const input = screen.getByLabelText('Verification code') as HTMLInputElement;
  await user.type(input, '12ab 34');
  expect(input.value).toBe('1234');
  await user.click(screen.getByRole('button', { name: 'Verify' }));
  expect((await screen.findByRole('alert')).textContent).toBe(
    'Enter the 6-digit code from your authenticator app.',
  );
  expect(api.callsTo('auth.verifyMfa')).toEqual([]);
});

test('after the last attempt (or a dead challenge) the only way is to sign in again', async () => {
  const { user } = await toMfaStep(invalidCode);
  for (let i = 0; i < 5; i++) {
    await user.type(screen.getByLabelText('Verification code'), '000000');
    await user.click(screen.getByRole('button', { name: 'Verify' }));
    if (i < 4) await screen.findByText(`${4 - i} attempt${4 - i === 1 ? '' : 's'} left`);
  }
  expect((await screen.findByRole('alert')).textContent).toMatch(/too many wrong codes, or it expired/);
  fireEvent.click(screen.getByRole('button', { name: 'Sign in again' }));
  expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeTruthy();
});

test('a challenge the server no longer knows ends the step', async () => {
  const { user } = await toMfaStep(() =>
    fail('UNAUTHORIZED', 'This sign-in expired or had too many attempts.', {
      reason: 'mfa_challenge_invalid',
    }),
  );
  await user.type(screen.getByLabelText('Verification code'), '123456');
  await user.click(screen.getByRole('button', { name: 'Verify' }));
  expect((await screen.findByRole('alert')).textContent).toMatch(/Please sign in again/);
  expect(screen.getByRole('button', { name: 'Sign in again' })).toBeTruthy();
});
