/**
 * `npm start`: signs in, shows who and where you're signed in, ends your other sessions, logs out.
 *   TESSERA_URL (http://localhost:3000), TESSERA_ORIGIN (= TESSERA_URL), TESSERA_EMAIL, TESSERA_PASSWORD
 */
import { Tessera } from './tessera.js';

const url = process.env.TESSERA_URL ?? 'http://localhost:3000';
const { TESSERA_EMAIL: email, TESSERA_PASSWORD: password } = process.env;
if (!email || !password) {
  console.error('Set TESSERA_EMAIL and TESSERA_PASSWORD (pnpm cli users create --email ... in Tessera).');
  process.exit(2);
}
const tessera = new Tessera({ url, origin: process.env.TESSERA_ORIGIN ?? url, email, password });

await tessera.signIn();
const me = await tessera.call((api) => api.auth.me.query());
console.log(
  `signed in as ${me.user.email}; idle deadline ${new Date(me.session.idleExpiresAt).toISOString()}`,
);
const sessions = await tessera.call((api) => api.sessions.list.query());
for (const s of sessions) console.log(`${s.current ? '*' : ' '} ${s.id} ${s.browser ?? '?'} ${s.ip ?? ''}`);
const { revoked } = await tessera.call((api) => api.sessions.revokeOthers.mutate());
console.log(`ended ${revoked} other session(s)`);
console.log(`logged out: ${await tessera.logout()}`);
