import { createHash, type webcrypto } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DbscPublicJwk, verifyRefreshProof, verifyRegistrationJwt } from '../src/dbsc/jwt.js';

/**
 * A browser in Web Crypto: keys made the way Chromium's software keys are (P-256, RSA-2048), proofs
 * built as `CreateHeaderAndPayload` does (header `{alg, typ, jwk}` at registration, `{alg, typ}` at
 * refresh; payload `{jti, authorization?}`), ES256 signatures in the JOSE r||s form.
 */
const subtle = globalThis.crypto.subtle;
const b64 = (bytes: Uint8Array | ArrayBuffer) => Buffer.from(bytes as ArrayBuffer).toString('base64url');
const json = (value: unknown) => b64(new TextEncoder().encode(JSON.stringify(value)));

type Alg = 'ES256' | 'RS256';
interface TestKey {
  alg: Alg;
  pair: webcrypto.CryptoKeyPair;
  jwk: Record<string, unknown>;
}

async function makeKey(alg: Alg, modulusLength = 2048): Promise<TestKey> {
  const pair = (await subtle.generateKey(
    alg === 'ES256'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        },
    true,
    ['sign', 'verify'],
  )) as webcrypto.CryptoKeyPair;
  const full = await subtle.exportKey('jwk', pair.publicKey);
  // What Chromium puts in the header: the required members only.
  const jwk =
    alg === 'ES256'
      ? { kty: 'EC', crv: 'P-256', x: full.x, y: full.y }
      : { kty: 'RSA', n: full.n, e: full.e };
  return { alg, pair, jwk };
}

async function sign(key: TestKey, input: string): Promise<Uint8Array> {
  const params = key.alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
  return new Uint8Array(await subtle.sign(params, key.pair.privateKey, new TextEncoder().encode(input)));
}

async function jwt(
  key: TestKey,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signature?: (raw: Uint8Array) => Uint8Array,
): Promise<string> {
  const input = `${json(header)}.${json(payload)}`;
  const raw = await sign(key, input);
  return `${input}.${b64(signature ? signature(raw) : raw)}`;
}

const registration = (key: TestKey, jti: string, extra: Record<string, unknown> = {}) =>
  jwt(key, { alg: key.alg, typ: 'dbsc+jwt', jwk: key.jwk }, { jti, ...extra });
const refresh = (key: TestKey, jti: string) => jwt(key, { alg: key.alg, typ: 'dbsc+jwt' }, { jti });

/** RFC 7638 computed independently of the code under test. */
function thumbprint(jwk: Record<string, unknown>): string {
  const members = jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['e', 'kty', 'n'];
  const canonical = `{${members.map((m) => `"${m}":"${jwk[m]}"`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

/** ECDSA r||s to the DER SEQUENCE a TPM returns (what Chromium converts away before sending). */
function toDer(raw: Uint8Array): Uint8Array {
  const int = (bytes: Uint8Array) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    const v = bytes.slice(i);
    const body = v[0]! & 0x80 ? [0, ...v] : [...v];
    return [0x02, body.length, ...body];
  };
  const seq = [...int(raw.slice(0, 32)), ...int(raw.slice(32))];
  return new Uint8Array([0x30, seq.length, ...seq]);
}

const CHALLENGE = 'q0bWZ0rHMWx1PbYDYm2c6OeL2m6Hn5F9nyLDf1-_8qE';
const ALGS = ['ES256', 'RS256'] as const;
let ec: TestKey;
let rsa: TestKey;
let otherEc: TestKey;

beforeAll(async () => {
  [ec, rsa, otherEc] = await Promise.all([makeKey('ES256'), makeKey('RS256'), makeKey('ES256')]);
});

describe('verifyRegistrationJwt', () => {
  it.each(['ES256', 'RS256'] as const)(
    'accepts a valid %s registration and returns the normalised key',
    async (alg) => {
      const key = alg === 'ES256' ? ec : rsa;
      const result = await verifyRegistrationJwt(await registration(key, CHALLENGE), {
        expectedChallenge: CHALLENGE,
        algorithms: ALGS,
      });
      expect(result).toEqual({
        ok: true,
        alg,
        publicJwk: key.jwk,
        thumbprint: thumbprint(key.jwk),
        claims: { jti: CHALLENGE },
      });
    },
  );

  it('keeps only the public members of a Web Crypto export (ext, key_ops dropped)', async () => {
    const exported = await subtle.exportKey('jwk', ec.pair.publicKey);
    expect(exported).toHaveProperty('ext');
    const key = { ...ec, jwk: exported as Record<string, unknown> };
    const result = await verifyRegistrationJwt(await registration(key, CHALLENGE), {
      expectedChallenge: CHALLENGE,
      algorithms: ALGS,
    });
    expect(result.ok && result.publicJwk).toEqual({ kty: 'EC', crv: 'P-256', x: exported.x, y: exported.y });
  });

  it('matches the RFC 7638 §3.1 example thumbprint', async () => {
    const { jwkThumbprint } = await import('../src/dbsc/jwt.js');
    const n =
      '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw';
    expect(await jwkThumbprint({ kty: 'RSA', n, e: 'AQAB' })).toBe(
      'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    );
  });

  it('refuses a wrong challenge after a valid signature', async () => {
    const result = await verifyRegistrationJwt(await registration(ec, 'another-challenge'), {
      expectedChallenge: CHALLENGE,
      algorithms: ALGS,
    });
    expect(result).toEqual({ ok: false, reason: 'challenge_mismatch' });
  });

  it('refuses a challenge that only shares a prefix', async () => {
    const result = await verifyRegistrationJwt(await registration(ec, CHALLENGE.slice(0, -1)), {
      expectedChallenge: CHALLENGE,
      algorithms: ALGS,
    });
    expect(result).toEqual({ ok: false, reason: 'challenge_mismatch' });
  });

  it('refuses alg none, HS256 and ES384, and an algorithm that was not offered', async () => {
    const payload = json({ jti: CHALLENGE });
    const none = `${json({ alg: 'none', typ: 'dbsc+jwt' })}.${payload}.`;
    const noneSigned = `${json({ alg: 'none', typ: 'dbsc+jwt', jwk: ec.jwk })}.${payload}.AAAA`;
    const hsKey = await subtle.importKey(
      'raw',
      new Uint8Array(32),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    const hsInput = `${json({ alg: 'HS256', typ: 'dbsc+jwt', jwk: ec.jwk })}.${payload}`;
    const hs = `${hsInput}.${b64(await subtle.sign('HMAC', hsKey, new TextEncoder().encode(hsInput)))}`;
    const p384 = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const p384Jwk = await subtle.exportKey('jwk', p384.publicKey);
    const esInput = `${json({ alg: 'ES384', typ: 'dbsc+jwt', jwk: { kty: 'EC', crv: 'P-384', x: p384Jwk.x, y: p384Jwk.y } })}.${payload}`;
    const es384 = `${esInput}.${b64(await subtle.sign({ name: 'ECDSA', hash: 'SHA-384' }, p384.privateKey, new TextEncoder().encode(esInput)))}`;
    const options = { expectedChallenge: CHALLENGE, algorithms: ALGS };
    expect(await verifyRegistrationJwt(none, options)).toEqual({ ok: false, reason: 'malformed' });
    expect(await verifyRegistrationJwt(noneSigned, options)).toEqual({
      ok: false,
      reason: 'unsupported_alg',
    });
    expect(await verifyRegistrationJwt(hs, options)).toEqual({ ok: false, reason: 'unsupported_alg' });
    expect(await verifyRegistrationJwt(es384, options)).toEqual({ ok: false, reason: 'unsupported_alg' });
    expect(
      await verifyRegistrationJwt(await registration(rsa, CHALLENGE), { ...options, algorithms: ['ES256'] }),
    ).toEqual({ ok: false, reason: 'unsupported_alg' });
  });

  it('refuses an alg that does not fit the key type', async () => {
    const result = await verifyRegistrationJwt(
      await jwt(rsa, { alg: 'ES256', typ: 'dbsc+jwt', jwk: rsa.jwk }, { jti: CHALLENGE }),
      { expectedChallenge: CHALLENGE, algorithms: ALGS },
    );
    expect(result).toEqual({ ok: false, reason: 'bad_key' });
  });

  it('refuses a wrong or missing typ', async () => {
    const options = { expectedChallenge: CHALLENGE, algorithms: ALGS };
    const jwtTyp = await jwt(ec, { alg: 'ES256', typ: 'JWT', jwk: ec.jwk }, { jti: CHALLENGE });
    const noTyp = await jwt(ec, { alg: 'ES256', jwk: ec.jwk }, { jti: CHALLENGE });
    expect(await verifyRegistrationJwt(jwtTyp, options)).toEqual({ ok: false, reason: 'bad_typ' });
    const mediaType = await jwt(
      ec,
      { alg: 'ES256', typ: 'application/DBSC+JWT', jwk: ec.jwk },
      { jti: CHALLENGE },
    );
    expect((await verifyRegistrationJwt(mediaType, options)).ok).toBe(true);
    expect(await verifyRegistrationJwt(noTyp, options)).toEqual({ ok: false, reason: 'bad_typ' });
  });

  it('refuses a tampered payload', async () => {
    const signed = await registration(ec, 'challenge-the-key-signed');
    const [h, , s] = signed.split('.');
    const tampered = `${h}.${json({ jti: CHALLENGE })}.${s}`;
    expect(await verifyRegistrationJwt(tampered, { expectedChallenge: CHALLENGE, algorithms: ALGS })).toEqual(
      {
        ok: false,
        reason: 'bad_signature',
      },
    );
  });

  it('refuses a DER-encoded ECDSA signature (JWS needs raw r||s)', async () => {
    const der = await jwt(ec, { alg: 'ES256', typ: 'dbsc+jwt', jwk: ec.jwk }, { jti: CHALLENGE }, toDer);
    expect(await verifyRegistrationJwt(der, { expectedChallenge: CHALLENGE, algorithms: ALGS })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('refuses a key with private members', async () => {
    const privateJwk = await subtle.exportKey('jwk', ec.pair.privateKey);
    expect(privateJwk.d).toBeTypeOf('string');
    const key = {
      ...ec,
      jwk: { kty: 'EC', crv: 'P-256', x: privateJwk.x, y: privateJwk.y, d: privateJwk.d },
    };
    expect(
      await verifyRegistrationJwt(await registration(key, CHALLENGE), {
        expectedChallenge: CHALLENGE,
        algorithms: ALGS,
      }),
    ).toEqual({ ok: false, reason: 'bad_key' });
  });

  it('refuses malformed keys: missing, 33-byte coordinate, wrong curve, point off the curve, RSA-1024', async () => {
    const options = { expectedChallenge: CHALLENGE, algorithms: ALGS };
    const x = ec.jwk.x as string;
    const padded = b64(new Uint8Array([0, ...Buffer.from(x, 'base64url')]));
    const offCurve = b64(new Uint8Array(32).fill(7));
    const rsa1024 = await makeKey('RS256', 1024);
    const cases = [
      await jwt(ec, { alg: 'ES256', typ: 'dbsc+jwt' }, { jti: CHALLENGE }),
      await registration({ ...ec, jwk: { ...ec.jwk, x: padded } }, CHALLENGE),
      await registration({ ...ec, jwk: { ...ec.jwk, crv: 'P-384' } }, CHALLENGE),
      await registration({ ...ec, jwk: { ...ec.jwk, x: offCurve } }, CHALLENGE),
      await registration(rsa1024, CHALLENGE),
      await registration({ ...ec, jwk: { ...ec.jwk, alg: 'RS256' } }, CHALLENGE),
      await registration({ ...ec, jwk: { ...ec.jwk, use: 'enc' } }, CHALLENGE),
      // RFC 7518 §6.3.1: minimal big-endian integers, so one key has one thumbprint.
      await registration(
        {
          ...rsa,
          jwk: { ...rsa.jwk, n: b64(new Uint8Array([0, ...Buffer.from(rsa.jwk.n as string, 'base64url')])) },
        },
        CHALLENGE,
      ),
      await registration({ ...rsa, jwk: { ...rsa.jwk, e: 'AAEAAQ' } }, CHALLENGE),
      await registration({ ...rsa, jwk: { ...rsa.jwk, e: 'AQAA' } }, CHALLENGE),
    ];
    for (const token of cases)
      expect(await verifyRegistrationJwt(token, options)).toEqual({ ok: false, reason: 'bad_key' });
  });

  it('refuses oversized input but accepts a proof just under 8 KB', async () => {
    const options = { expectedChallenge: CHALLENGE, algorithms: ALGS };
    const base = (await registration(ec, CHALLENGE, { pad: '' })).length;
    // Each 3 padding characters add 4 base64url characters.
    const fits = await registration(ec, CHALLENGE, { pad: 'a'.repeat(Math.floor(((8192 - base) * 3) / 4)) });
    expect(fits.length).toBeLessThanOrEqual(8192);
    expect(fits.length).toBeGreaterThan(8186);
    expect((await verifyRegistrationJwt(fits, options)).ok).toBe(true);
    const big = await registration(ec, CHALLENGE, { pad: 'a'.repeat(6200) });
    expect(big.length).toBeGreaterThan(8192);
    expect(await verifyRegistrationJwt(big, options)).toEqual({ ok: false, reason: 'too_large' });
  });

  it('refuses extra segments, padding, non-canonical base64url and non-object JSON', async () => {
    const options = { expectedChallenge: CHALLENGE, algorithms: ALGS };
    const good = await registration(ec, CHALLENGE);
    const [h, p, s] = good.split('.') as [string, string, string];
    // 64 bytes are 86 characters with 4 unused bits in the last one; setting one is another spelling of the same bytes.
    const last = s.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const nonCanonical = `${s.slice(0, -1)}${alphabet[alphabet.indexOf(last) | 1]}`;
    expect(Buffer.from(nonCanonical, 'base64url')).toEqual(Buffer.from(s, 'base64url'));
    const cases = [
      `${good}.${s}`,
      `${h}.${p}`,
      `${h}.${p}.${s}==`,
      `${h}.${p}.${nonCanonical}`,
      `${h} .${p}.${s}`,
      `${json([1])}.${p}.${s}`,
      `${h}.${b64(new TextEncoder().encode('"jti"'))}.${s}`,
      `${h}.${json({ jti: 42 })}.${s}`,
      `${h}.${json({ jti: CHALLENGE, authorization: 7 })}.${s}`,
    ];
    expect((await verifyRegistrationJwt(good, options)).ok).toBe(true);
    for (const token of cases)
      expect(await verifyRegistrationJwt(token, options)).toEqual({ ok: false, reason: 'malformed' });
    expect(await verifyRegistrationJwt(42 as unknown as string, options)).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });

  it('refuses a crit header it does not understand', async () => {
    const token = await jwt(
      ec,
      { alg: 'ES256', typ: 'dbsc+jwt', jwk: ec.jwk, crit: ['x'], x: 1 },
      { jti: CHALLENGE },
    );
    expect(await verifyRegistrationJwt(token, { expectedChallenge: CHALLENGE, algorithms: ALGS })).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });

  it('checks the echoed authorization both ways', async () => {
    const options = { expectedChallenge: CHALLENGE, algorithms: ALGS, authorization: 'code-123' };
    const echoed = await registration(ec, CHALLENGE, { authorization: 'code-123' });
    expect(await verifyRegistrationJwt(echoed, options)).toMatchObject({
      ok: true,
      claims: { jti: CHALLENGE, authorization: 'code-123' },
    });
    const mismatch = { ok: false, reason: 'authorization_mismatch' };
    expect(await verifyRegistrationJwt(await registration(ec, CHALLENGE), options)).toEqual(mismatch);
    expect(
      await verifyRegistrationJwt(await registration(ec, CHALLENGE, { authorization: 'code-124' }), options),
    ).toEqual(mismatch);
    expect(await verifyRegistrationJwt(echoed, { expectedChallenge: CHALLENGE, algorithms: ALGS })).toEqual(
      mismatch,
    );
  });

  it('returns unknown claims (an aud Chromium may add) without refusing them', async () => {
    const result = await verifyRegistrationJwt(await registration(ec, CHALLENGE, { aud: 'https://x/dbsc' }), {
      expectedChallenge: CHALLENGE,
      algorithms: ALGS,
    });
    expect(result).toMatchObject({ ok: true, claims: { jti: CHALLENGE, aud: 'https://x/dbsc' } });
  });

  it('throws on bad options', async () => {
    const token = await registration(ec, CHALLENGE);
    await expect(verifyRegistrationJwt(token, { expectedChallenge: '', algorithms: ALGS })).rejects.toThrow(
      /expectedChallenge/,
    );
    await expect(
      verifyRegistrationJwt(token, { expectedChallenge: CHALLENGE, algorithms: [] }),
    ).rejects.toThrow(/algorithms/);
    await expect(
      verifyRegistrationJwt(token, { expectedChallenge: CHALLENGE, algorithms: ['none' as 'ES256'] }),
    ).rejects.toThrow(/none/);
  });
});

describe('verifyRefreshProof', () => {
  it.each(['ES256', 'RS256'] as const)('accepts a %s proof by the stored key', async (alg) => {
    const key = alg === 'ES256' ? ec : rsa;
    const result = await verifyRefreshProof(await refresh(key, CHALLENGE), {
      publicJwk: key.jwk as unknown as DbscPublicJwk,
      expectedChallenge: CHALLENGE,
    });
    expect(result).toEqual({ ok: true, claims: { jti: CHALLENGE } });
  });

  it('refuses a proof signed by another key', async () => {
    const result = await verifyRefreshProof(await refresh(otherEc, CHALLENGE), {
      publicJwk: ec.jwk as unknown as DbscPublicJwk,
      expectedChallenge: CHALLENGE,
    });
    expect(result).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses a proof that brings its own key, even the stored one', async () => {
    const own = await jwt(otherEc, { alg: 'ES256', typ: 'dbsc+jwt', jwk: otherEc.jwk }, { jti: CHALLENGE });
    const same = await registration(ec, CHALLENGE);
    const options = { publicJwk: ec.jwk as unknown as DbscPublicJwk, expectedChallenge: CHALLENGE };
    expect(await verifyRefreshProof(own, options)).toEqual({ ok: false, reason: 'malformed' });
    expect(await verifyRefreshProof(same, options)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses a wrong challenge, a tampered payload and an alg other than the key', async () => {
    const options = { publicJwk: ec.jwk as unknown as DbscPublicJwk, expectedChallenge: CHALLENGE };
    expect(await verifyRefreshProof(await refresh(ec, 'stale'), options)).toEqual({
      ok: false,
      reason: 'challenge_mismatch',
    });
    const [h, , s] = (await refresh(ec, 'stale')).split('.');
    expect(await verifyRefreshProof(`${h}.${json({ jti: CHALLENGE })}.${s}`, options)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    const rsaSigned = await jwt(rsa, { alg: 'RS256', typ: 'dbsc+jwt' }, { jti: CHALLENGE });
    expect(await verifyRefreshProof(rsaSigned, options)).toEqual({ ok: false, reason: 'unsupported_alg' });
    const none = `${json({ alg: 'none', typ: 'dbsc+jwt' })}.${json({ jti: CHALLENGE })}.AAAA`;
    expect(await verifyRefreshProof(none, options)).toEqual({ ok: false, reason: 'unsupported_alg' });
  });

  it('throws when the stored key is not a public key', async () => {
    const privateJwk = await subtle.exportKey('jwk', ec.pair.privateKey);
    await expect(
      verifyRefreshProof(await refresh(ec, CHALLENGE), {
        publicJwk: privateJwk as unknown as DbscPublicJwk,
        expectedChallenge: CHALLENGE,
      }),
    ).rejects.toThrow(/publicJwk/);
  });
});
