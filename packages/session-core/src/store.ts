/**
 * The storage seam, for the three stores shipped here and for third-party ones (MySQL, DynamoDB, ...:
 * see docs/write-your-own-store.md). A store persists sessions and makes each operation atomic; it
 * decides nothing about policy beyond the two comparisons of `liveness` (./policy.ts), which it must
 * mirror exactly so that it can check and touch in one round trip. Every store passes the contract
 * suite in `@tessera/session-core/testing`.
 *
 * Every method takes one object argument. Time never comes from the store: every call carries `now`
 * (ms since epoch, from the manager's clock) and the `policy` (the deadlines in ms).
 *
 * A method that can't answer rejects with whatever its driver threw: the manager wraps every store
 * call into SessionStoreError (one place, for every store), so a store needs no error type of its own.
 * It must never answer "no session" for a failure.
 *
 * One verb per concept, from manager to store to end reason to event:
 *   logout     manager.logout    store.logout    reason 'logged_out'   event 'logged_out'
 *   revoke     manager.revoke    store.revoke    reason 'revoked'      event 'revoked'
 *              manager.revokeAll store.revokeAll (or 'password_changed' / 'account_disabled',
 *                                                still event 'revoked')
 *   evict      (create, at the limit)            reason 'evicted'      event 'evicted'
 *   expire     (validate, past a deadline)       reason 'idle_timeout' | 'absolute_timeout'
 *                                                                      event 'expired'
 */

/** JSON-serialisable data a session carries (role, permissions, authAt, ...). */
export type SessionData = Record<string, unknown>;

/** Why a session ended on purpose or by a deadline. Kept as a short-lived tombstone where the store can. */
export type EndReason = RevokeReason | 'evicted' | 'logged_out' | 'idle_timeout' | 'absolute_timeout';

/**
 * The reasons `revoke` and `revokeAll` accept, and the only ones: a tombstone's reason is shown to the
 * signed-out user, so it is a closed list, never free text. `'revoked'` (the default) for a session
 * ended by the user or an admin, `'password_changed'` after a password change, `'account_disabled'`
 * when the account itself was disabled (every session of the user ends at once).
 */
export type RevokeReason = 'revoked' | 'password_changed' | 'account_disabled';

/** Every RevokeReason, for the checks made at run time (the compiler keeps it complete and exact). */
export const REVOKE_REASONS: readonly RevokeReason[] = Object.freeze(
  Object.keys({
    revoked: true,
    password_changed: true,
    account_disabled: true,
  } satisfies Record<RevokeReason, true>) as RevokeReason[],
);

/**
 * What a store can say about a token that is not (or no longer) a live session. `'device_unbound'`:
 * the session is live but bound to a device key (DBSC) and the request carried no fresh bound cookie
 * (docs/DBSC.md §4.4); nothing was written, the session goes on for its device.
 */
export type StoreMiss = 'unknown' | 'rotated' | 'device_unbound' | EndReason;

/** The deadlines and tombstone lifetime, resolved to milliseconds by the manager. */
export interface StorePolicy {
  idleMs: number;
  absoluteMs: number;
  /** How long an ended session stays readable as a tombstone (so a client can learn why). */
  tombstoneMs: number;
  /**
   * After a session binds to a device key, how long requests without the bound cookie still pass
   * (those already in flight when the binding happened). 0 when device binding is off.
   */
  bindingGraceMs: number;
}

export interface StoredSession {
  /** Public id: safe to show and to pass to `revoke`. Never the token. */
  id: string;
  userId: string;
  data: SessionData;
  /** Login time; never changes, not even on rotation. */
  createdAt: number;
  lastActivityAt: number;
  userAgent: string | null;
  ip: string | null;
  /** Set by `updateUser({ rotate: true })`: the next validation must rotate the token. */
  rotatePending: boolean;
  /** When the session bound to a device key (DBSC); null while unbound. Never goes back to null. */
  boundAt: number | null;
}

/**
 * A one-time secret a store keeps for device binding: SHA-256 of it (32 bytes, never the value) and
 * the time (ms) from which it no longer counts. Used for DBSC challenges and bound cookies.
 */
export interface StoredSecret {
  hash: Uint8Array;
  expiresAt: number;
}

/** A session's device public key (DBSC), as the store keeps it. */
export interface DeviceKey {
  /** RFC 7638 SHA-256 thumbprint, base64url (43 characters). */
  jkt: string;
  /** The public JWK as canonical JSON (the required members only): never a private member. */
  jwk: string;
  alg: 'ES256' | 'RS256';
}

export interface NewSession {
  id: string;
  /** SHA-256 of the full token (32 bytes). The raw token never reaches a store. */
  tokenHash: Uint8Array;
  userId: string;
  data: SessionData;
  createdAt: number;
  userAgent: string | null;
  ip: string | null;
  /**
   * The DBSC registration challenge offered with this sign-in, stored in the same write; absent or
   * null when device binding is off. The only way a session can ever come to bind (docs/DBSC.md §4.5).
   */
  deviceChallenge?: StoredSecret | null;
}

export interface SessionLimit {
  max: number;
  /** `evict-oldest` ends the live session with the oldest lastActivityAt; `reject` refuses. */
  onLimit: 'evict-oldest' | 'reject';
}

export type CreateOutcome = { ok: true; evicted: StoredSession[] } | { ok: false; active: StoredSession[] };

export type ValidateOutcome =
  | { ok: true; session: StoredSession }
  /**
   * `ended: true` when this very call found the session past a deadline and ended it; then `session`
   * (the record as it was) must be set too, so the manager can emit an `expired` event with its user.
   */
  | { ok: false; reason: StoreMiss; ended?: boolean; session?: StoredSession };

/** What every store call carries. */
export interface StoreCall {
  /** ms since epoch, from the manager's clock: the store never reads its own. */
  now: number;
  policy: StorePolicy;
}

/** A call about the session a token opens: its public id and SHA-256(token), never the token. */
export interface TokenCall extends StoreCall {
  id: string;
  tokenHash: Uint8Array;
}

/** What the device-binding calls answer (each also reports the usual misses, ending a dead session). */
export type DeviceOutcome =
  | { ok: true; session: StoredSession }
  | {
      ok: false;
      /**
       * A StoreMiss (as validate's), or: `not_bound` (the call needs a bound session), `already_bound`
       * (binding is once), `bad_challenge` (not the stored challenge, or expired, or used),
       * `wrong_key` (not the key the session bound).
       */
      reason: StoreMiss | 'not_bound' | 'already_bound' | 'bad_challenge' | 'wrong_key';
      ended?: boolean;
      session?: StoredSession;
    };

/** A call about a user's sessions. */
export interface UserCall extends StoreCall {
  userId: string;
}

export interface SessionStore {
  /** Shown in error messages, e.g. `'redis'`. */
  readonly name?: string;

  /**
   * A new public id for a session of this user (26 base64url characters, >= 128 random bits). Only for
   * stores that place a user's sessions together by id (Redis Cluster slots); `create` may then refuse
   * ids made otherwise. Without it, the manager uses 152 random bits (no link to the user at all).
   */
  newSessionId?(input: { userId: string }): string;

  /**
   * Inserts the session, atomically with the per-user limit: prunes dead entries of the user's index,
   * then evicts the least recently active live sessions or refuses, so that parallel creates for one
   * user can never leave more than `limit.max` live sessions.
   */
  create(input: StoreCall & { session: NewSession; limit: SessionLimit }): Promise<CreateOutcome>;

  /**
   * One round trip: looks the session up, checks the token hash and both deadlines, and on success
   * sets lastActivityAt = now (returned session carries the new value). On a deadline miss it ends the
   * session (tombstone) and reports `ended: true` the first time. Must never revive an ended session.
   */
  validate(
    input: TokenCall & {
      /**
       * SHA-256 of the bound cookie the request carried, or null/absent. For a session bound to a device
       * key, the store accepts the request only when this equals the current bound hash before its
       * expiry, or the previous one before its own expiry, or when `now` is within
       * `policy.bindingGraceMs` of `boundAt`; otherwise it answers `device_unbound` and writes nothing
       * (a copied session cookie must not keep the session alive). Deadlines are checked first.
       */
      boundHash?: Uint8Array | null;
    },
  ): Promise<ValidateOutcome>;

  /**
   * Atomically replaces the token hash of a live session (old token dead at once, later reported as
   * `rotated`), touches it, merges `patch` into data and clears `rotatePending`. Keeps id, createdAt,
   * metadata and the limit slot. Returns null when `tokenHash` is not the live token.
   */
  rotate(
    input: TokenCall & { newTokenHash: Uint8Array; patch: SessionData | null },
  ): Promise<StoredSession | null>;

  /** Shallow-merges `patch` into the data of the live session this token opens. Null when not live. */
  patch(input: TokenCall & { patch: SessionData }): Promise<StoredSession | null>;

  /**
   * Ends the live session this token opens with reason `logged_out`. The token the last rotation
   * replaced ends it too (a logout racing a rotation); the hash is compared in full either way.
   * Returns the ended session, or null when it was not live.
   */
  logout(input: TokenCall): Promise<StoredSession | null>;

  /** Ends the session with this public id if it is live and belongs to `userId`. */
  revoke(input: UserCall & { id: string; reason: RevokeReason }): Promise<StoredSession | null>;

  /** Ends every live session of the user except `exceptId`. Returns the ended sessions. */
  revokeAll(input: UserCall & { exceptId: string | null; reason: RevokeReason }): Promise<StoredSession[]>;

  /** Live sessions of the user (oldest first by createdAt); prunes dead index entries on the way. */
  list(input: UserCall): Promise<StoredSession[]>;

  /**
   * Shallow-merges `patch` into every live session of the user; with `rotate`, marks each one so that
   * its next validation rotates the token. The patch is visible to the very next validate/list.
   * Returns how many sessions were updated.
   */
  updateUser(input: UserCall & { patch: SessionData; rotate: boolean }): Promise<number>;

  /*
   * Device binding (DBSC, docs/DBSC.md). Optional as a group: a store without these methods works,
   * and `createSessionManager` refuses the `deviceBinding` option over it. All four accept the current
   * token or the one the last rotation replaced (as `logout`: a refresh may race a rotation), check
   * both deadlines exactly as `validate` does (ending a dead session, `ended: true` the first time),
   * and never slide the idle clock: only a request does. A tombstone never binds.
   */

  /**
   * Binds a session, once: live, not bound yet, and `challengeHash` equal to the stored challenge
   * before its expiry. Atomically stores `key`, boundAt = now, `bound` as the bound cookie, `next` as
   * the challenge (the registration challenge is used up).
   */
  bindDevice?(
    input: TokenCall & { challengeHash: Uint8Array; key: DeviceKey; bound: StoredSecret; next: StoredSecret },
  ): Promise<DeviceOutcome>;

  /** Stores `challenge` as the session's one challenge (replacing any). Bound sessions only. */
  deviceChallenge?(input: TokenCall & { challenge: StoredSecret }): Promise<DeviceOutcome>;

  /** The key a live bound session bound (to verify a refresh proof against). Writes only to end a dead one. */
  deviceKey?(
    input: TokenCall,
  ): Promise<{ ok: true; key: DeviceKey; session: StoredSession } | Extract<DeviceOutcome, { ok: false }>>;

  /**
   * A refresh: the session is bound with key `jkt`, and `challengeHash` equals the stored challenge
   * before its expiry. Atomically uses the challenge up (a replayed proof finds `bad_challenge`), keeps
   * the current bound cookie as the previous one (with its own expiry), stores `bound` and `next`.
   */
  refreshDevice?(
    input: TokenCall & { jkt: string; challengeHash: Uint8Array; bound: StoredSecret; next: StoredSecret },
  ): Promise<DeviceOutcome>;

  /** Deletes expired sessions and old tombstones where the store can't expire them itself (SQL). */
  sweep?(input: StoreCall): Promise<number>;
}
