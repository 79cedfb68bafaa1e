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

/** What a store can say about a token that is not (or no longer) a live session. */
export type StoreMiss = 'unknown' | 'rotated' | EndReason;

/** The deadlines and tombstone lifetime, resolved to milliseconds by the manager. */
export interface StorePolicy {
  idleMs: number;
  absoluteMs: number;
  /** How long an ended session stays readable as a tombstone (so a client can learn why). */
  tombstoneMs: number;
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
  validate(input: TokenCall): Promise<ValidateOutcome>;

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

  /** Deletes expired sessions and old tombstones where the store can't expire them itself (SQL). */
  sweep?(input: StoreCall): Promise<number>;
}
