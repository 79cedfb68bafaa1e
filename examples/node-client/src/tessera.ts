/**
 * Calling Tessera's tRPC API from another TypeScript service: a typed client (`createTRPCClient<AppRouter>`)
 * that signs in with a service account, keeps its session cookie, sends the Origin the API's CSRF guard
 * asks of clients without fetch metadata, and recovers when the session ends.
 */
import type { AppRouter } from '@tessera/server';
import { createTRPCClient, httpBatchLink, type TRPCClient, TRPCClientError } from '@trpc/client';
import { CookieJar } from './cookie-jar.js';

export interface TesseraOptions {
  /** Where the API is served, e.g. `https://tessera.example.com` (the client calls `<url>/trpc`). */
  url: string;
  /**
   * The server's APP_ORIGIN. Mutations from a client that sends no `Sec-Fetch-Site` must carry
   * `Origin: <APP_ORIGIN>`, or the API refuses them (403): its CSRF guard.
   */
  origin: string;
  email: string;
  password: string;
}

/** The `data.reason` of a tRPC error (UNAUTHORIZED: why there is no session; FORBIDDEN: what is missing). */
export function reasonOf(error: unknown): string | null {
  if (!(error instanceof TRPCClientError)) return null;
  const reason = (error as TRPCClientError<AppRouter>).data?.reason;
  return typeof reason === 'string' ? reason : null;
}

/** UNAUTHORIZED reasons that mean "this client has no live session": sign in again. */
const SESSION_ENDED = new Set([
  'missing',
  'duplicate',
  'malformed',
  'unknown',
  'idle_timeout',
  'absolute_timeout',
  'revoked',
  'evicted',
  'password_changed',
  'logged_out',
]);

export class Tessera {
  readonly api: TRPCClient<AppRouter>;
  private jar = new CookieJar();

  constructor(private readonly options: TesseraOptions) {
    this.api = createTRPCClient<AppRouter>({
      links: [
        httpBatchLink({
          url: `${options.url}/trpc`,
          headers: { origin: options.origin },
          // Through the jar: whatever cookie it holds at the time of the call.
          fetch: (input, init) => this.jar.fetch(input, init),
        }),
      ],
    });
  }

  /**
   * Password sign-in; the session cookie lands in this client's jar. An account with MFA can't sign in
   * unattended (`auth.verifyMfa` needs a code), so service accounts go without it.
   */
  async signIn(): Promise<void> {
    const result = await this.api.auth.login.mutate({
      email: this.options.email,
      password: this.options.password,
    });
    if (result.status !== 'signed_in')
      throw new Error(`${this.options.email}: MFA is on; use an account without it`);
  }

  /**
   * Runs `call` with the API, recovering once from what a long-lived client meets:
   *  - UNAUTHORIZED `rotated`: a parallel call got a new token, and the jar holds it now: retry;
   *  - UNAUTHORIZED because the session ended (`missing`, `idle_timeout`, `absolute_timeout`,
   *    `revoked`, `evicted`, `password_changed`, `logged_out`, `unknown`, ...): sign in, retry;
   *  - FORBIDDEN `reauthentication_required` (sessions.revoke and other sensitive calls want the
   *    password entered within the last few minutes): `auth.reauthenticate`, retry.
   * The server refuses these before the procedure runs, so a retry never repeats a mutation's effect.
   * Anything else (`invalid_credentials`, TOO_MANY_REQUESTS, a 503, ...) is thrown as is.
   */
  async call<T>(call: (api: TRPCClient<AppRouter>) => Promise<T>): Promise<T> {
    try {
      return await call(this.api);
    } catch (error) {
      const reason = reasonOf(error);
      if (reason === 'rotated') {
        // The jar already holds the successor a parallel call received.
      } else if (reason && SESSION_ENDED.has(reason)) {
        await this.signIn();
      } else if (reason === 'reauthentication_required') {
        await this.api.auth.reauthenticate.mutate({ password: this.options.password });
      } else {
        throw error;
      }
      return call(this.api);
    }
  }

  /** Ends this client's session on the server; the jar drops the cookie. */
  async logout(): Promise<boolean> {
    return (await this.api.auth.logout.mutate()).ended;
  }

  /** The jar, e.g. to check that the session cookie is there. */
  get cookies(): CookieJar {
    return this.jar;
  }
}
