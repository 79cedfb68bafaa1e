/**
 * Redis store: every operation is ONE script call (EVALSHA, EVAL only when the server lacks the script),
 * so each one is a single round trip and atomic. It takes a live ioredis client (`Redis` or `Cluster`)
 * and never connects, closes or otherwise changes it.
 *
 * Key layout (default prefix `tessera:`):
 *
 *   <prefix>s:{<tag>}<rest of id>   hash, one per session. <tag> is the first 4 characters of the
 *                                   session id: the user's shard tag, HMAC(tagSecret, userId) cut to
 *                                   24 bits (./shard-tag.ts); <rest> the other 22 (128 random bits).
 *   <prefix>u:{<tag>}<userId>       sorted set, the user's index: member = <rest of id> (the session id
 *                                   without its tag, which the key carries), score = createdAt.
 *
 * The braces are a Redis Cluster hash tag: every key of one user is in one slot, so scripts can touch
 * a session and its user's index together, and derive one key from the other inside Lua.
 * The prefix length costs nothing up to 14 characters (the keys stay in the same jemalloc size classes;
 * only '' would save 16 bytes per key: see test/redis-memory.test.ts).
 *
 * Session hash fields (single letters to save memory):
 *   h  SHA-256 of the token, base64url (43 chars)  p  the previous h after a rotation, in full: the old
 *                                                     token reads as 'rotated' and can still log out
 *   u  userId                                      c  createdAt (ms)        a  lastActivityAt (ms)
 *   d  data, JSON                                  g  user agent in its compact form (./user-agent-codec.ts,
 *                                                     ~10 bytes for a browser's ~110; absent = null)
 *   i  ip (absent = null)                          r  '1' when rotatePending
 *   q  pending data patches from updateUser: comma-joined JSON objects, applied after d in order
 *      (validate, rotate and patch fold them into d).
 * Device binding (DBSC, docs/DBSC.md §4.3; all absent while unbound; hashes are SHA-256 in base64url,
 * times in ms):
 *   kc  the session's one challenge (hash)   kcx  its expiry. create stores the registration challenge;
 *       bindDevice and refreshDevice use it up and store the next one; deviceChallenge replaces it.
 *   k   the key's RFC 7638 thumbprint        kj   its public JWK, JSON (in pieces: ~120 bytes for P-256)
 *   ka  its alg, 'ES256' | 'RS256'           kb   boundAt, set once by bindDevice: the mark of a bound
 *                                                 session, never removed while it lives
 *   b   the bound cookie (hash)              bx   its expiry
 *   b1  the previous bound cookie (hash)     bx1  its expiry (refreshDevice moves b, bx here)
 *   (`b1` and `bx1` are fields of their own, not pieces: `b` and `bx` never need a second piece.)
 *   They live in the session hash, so they expire with it, and a tombstone drops them.
 * Values longer than 64 bytes continue in pieces named <letter>1, <letter>2, ... (64 bytes each; e.g. a
 * 150-byte user agent the codec can't shrink is g + g1 + g2). Redis keeps a hash in its compact listpack
 * encoding only while every value fits hash-max-listpack-value (default 64 bytes); a hashtable costs
 * about twice as much. A typical session (110-character UA, IPv4, {role}, UUID user id) is a listpack
 * of ~175 bytes (MEMORY USAGE and all-in figures: test/redis-memory.test.ts; a rotation's `p` moves it
 * up one jemalloc size class).
 * A tombstone is the same key rewritten to {h = first 8 characters of the hash, e = end reason, t =
 * ended at (ms)} for tombstoneMs: the same token then reads as that reason, any other token as
 * 'unknown'. `t` makes the tombstone end at `t + tombstoneMs` on the caller's clock too, not only by
 * Redis's own expiry. A tombstone's `h` is a hint (see ./lua/lib.lua): it only chooses which reason a
 * dead token is told, so 48 bits are plenty; a chance match grants nothing.
 *
 * Expiry: a live session's PTTL is (nearer deadline - now) + tombstoneMs (policy.retentionMs), so
 * expired sessions vanish without a cron and a late request still learns idle/absolute_timeout. The
 * index's PTTL is set on create to createdAt + absoluteMs + tombstoneMs - now (the newest member has
 * the furthest deadline) and dead members are pruned by every script that reads the index.
 * All times come from the caller's `now` (relative PEXPIRE), never from Redis TIME.
 *
 * The scripts live in ./lua, one file per operation, each prefixed with ./lua/lib.lua (which mirrors
 * src/policy.ts) when loaded. validate, the per-request one, has ./lua/validate-fast.lua in front of
 * that: the common case (live, token matches, nothing pending, and for a bound session a fresh bound
 * cookie) returns before the prelude runs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';
import { SessionConfigError, SessionError } from '../../errors.js';
import type {
  CreateOutcome,
  DeviceKey,
  DeviceOutcome,
  EndReason,
  SessionData,
  SessionStore,
  StoredSession,
  StoreMiss,
  StorePolicy,
  ValidateOutcome,
} from '../../store.js';
import { isSessionId, prefixedSessionId } from '../../tokens.js';
import { evalAndWait, type ReplicaWait, replicaWaitOption } from './replica-wait.js';
import { shardTagger, TAG_LENGTH } from './shard-tag.js';
import { decodeUserAgent, encodeUserAgent } from './user-agent-codec.js';

export type { ReplicaWait } from './replica-wait.js';

export interface RedisStoreOptions {
  /**
   * A connected ioredis client: `new Redis(url)` or `new Cluster(nodes)`. The store never connects,
   * closes or reconfigures it. For fail-fast behaviour while Redis is down, create it with
   * `enableOfflineQueue: false` (and a small `maxRetriesPerRequest`).
   */
  client: Redis | Cluster;
  /** Prepended to every key; must not contain `{` or `}` (they would break the hash tags). Default `'tessera:'`. */
  prefix?: string;
  /**
   * Required: the key of the user shard tag (./shard-tag.ts), at least 32 bytes from a CSPRNG, e.g.
   * `crypto.randomBytes(32)` generated once and kept. Every instance sharing the Redis must use the same
   * one, across restarts: with another secret a user's new sessions land in another index, and the
   * sessions made before are no longer found by user (list, revokeAll, updateUser, the limit).
   */
  tagSecret: Uint8Array;
  /**
   * Redis replicates asynchronously: without this, a revoke acknowledged just before the master dies
   * can be missing on the replica promoted in its place, and the revoked session works again. With it,
   * every write that ends a session or replaces its token (logout, revoke, revokeAll, rotate, updateUser,
   * and create when it evicts), and those that bind a device key or replace its bound cookie
   * (bindDevice, refreshDevice: a lost one would unbind the session, or bring a used challenge back),
   * is followed by `WAIT replicas timeoutMs` on the same connection and is
   * acknowledged only once that many replicas hold it; otherwise the call fails (the manager reports
   * SessionStoreError), since the change may not survive a failover (./replica-wait.ts). Set
   * `replicas` to at most the replicas each master has: while fewer are reachable those writes fail.
   * Default: off.
   * @example { replicas: 1, timeoutMs: 100 }
   */
  waitForReplicas?: ReplicaWait;
}

/** Key builders for one prefix and tag secret (for tooling, tests and the README). */
export interface RedisKeys {
  /** The user's shard tag: HMAC-SHA256(tagSecret, userId) cut to 4 base64url characters. */
  tag(userId: string): string;
  /** `<prefix>s:{<tag>}<rest of id>` */
  session(id: string): string;
  /** `<prefix>u:{<tag(userId)>}<userId>` */
  userIndex(userId: string): string;
}

const DEFAULT_PREFIX = 'tessera:';

export function redisKeys(options: { prefix?: string; tagSecret: Uint8Array }): RedisKeys {
  const prefix = options?.prefix ?? DEFAULT_PREFIX;
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    throw new SessionConfigError(
      `redisStore: prefix must be a string without '{' or '}', got ${JSON.stringify(prefix)}`,
    );
  }
  const tag = shardTagger(options.tagSecret);
  const s = `${prefix}s:{`;
  const u = `${prefix}u:{`;
  return {
    tag,
    session: (id) => `${s}${id.slice(0, TAG_LENGTH)}}${id.slice(TAG_LENGTH)}`,
    userIndex: (userId) => `${u}${tag(userId)}}${userId}`,
  };
}

interface Script {
  readonly source: string;
  readonly sha: string;
}

const LIB = readFileSync(new URL('./lua/lib.lua', import.meta.url), 'utf8');

/** `front` (optional) runs before the prelude: a fast path that returns early or falls through. */
function script(url: URL, front?: URL): Script {
  const own = `${LIB}\n${readFileSync(url, 'utf8')}`;
  const source = front ? `${readFileSync(front, 'utf8')}\n${own}` : own;
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const SCRIPTS = {
  // The hot one: ./lua/validate-fast.lua serves the common case before lib.lua creates its helpers.
  validate: script(
    new URL('./lua/validate.lua', import.meta.url),
    new URL('./lua/validate-fast.lua', import.meta.url),
  ),
  create: script(new URL('./lua/create.lua', import.meta.url)),
  rotate: script(new URL('./lua/rotate.lua', import.meta.url)),
  patch: script(new URL('./lua/patch.lua', import.meta.url)),
  logout: script(new URL('./lua/logout.lua', import.meta.url)),
  revoke: script(new URL('./lua/revoke.lua', import.meta.url)),
  revokeAll: script(new URL('./lua/revoke-all.lua', import.meta.url)),
  list: script(new URL('./lua/list.lua', import.meta.url)),
  updateUser: script(new URL('./lua/update-user.lua', import.meta.url)),
  bindDevice: script(new URL('./lua/bind-device.lua', import.meta.url)),
  deviceChallenge: script(new URL('./lua/device-challenge.lua', import.meta.url)),
  deviceKey: script(new URL('./lua/device-key.lua', import.meta.url)),
  refreshDevice: script(new URL('./lua/refresh-device.lua', import.meta.url)),
} as const;

const VALIDATE_SHA = SCRIPTS.validate.sha;

/** Exposed for tests and tooling (e.g. `SCRIPT LOAD` ahead of traffic). */
export const redisScripts: Readonly<Record<keyof typeof SCRIPTS, Script>> = SCRIPTS;

type Arg = string | number;
/** The two commands the store uses; both Redis and Cluster route them by the first key. */
type ScriptClient = {
  evalsha(sha: string, numKeys: number, ...args: Arg[]): Promise<unknown>;
  eval(source: string, numKeys: number, ...args: Arg[]): Promise<unknown>;
};

const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith('NOSCRIPT');

// Says what kind of reply it was, never its content (session data must not end up in logs).
const badReply = (reply: unknown): never => {
  const kind = Array.isArray(reply) ? `array of ${reply.length}` : reply === null ? 'nil' : typeof reply;
  throw new Error(`unexpected script reply (${kind})`);
};

/**
 * A token hash as the text the scripts get and store: base64url of the 32 bytes (43 characters).
 * Text, not a Buffer: ioredis writes a command that has any Buffer argument on a slower path (more
 * client CPU per validate; docs/PERFORMANCE.md), and text keeps every reply a plain string.
 */
function hashText(bytes: Uint8Array): string {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return buffer.toString('base64url');
}

/** d merged with the pending patches in q, as `{...d, ...q[0], ...q[1], ...}`. */
function mergeData(d: unknown, q: unknown): SessionData {
  if (typeof d !== 'string') return badReply(d);
  let data = JSON.parse(d) as SessionData;
  if (typeof q === 'string' && q !== '') {
    for (const patch of JSON.parse(`[${q}]`) as SessionData[]) data = { ...data, ...patch };
  }
  return data;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : badReply(v));
const optStr = (v: unknown): string | null => (v == null ? null : str(v));
/** boundAt from a reply's `kb` (absent while unbound). */
const optTime = (v: unknown): number | null => (v == null ? null : Number(str(v)));
/** The user agent from a reply's `g` (stored compact, see ./user-agent-codec.ts). */
const optUserAgent = (v: unknown): string | null => (v == null ? null : decodeUserAgent(str(v)));

/** A session from a flat reply at `o`: u, c, a, d, g, i, r, q, kb (the id is given). */
function sessionAt(id: string, r: unknown[], o: number): StoredSession {
  return {
    id,
    userId: str(r[o]),
    data: mergeData(r[o + 3], r[o + 7]),
    createdAt: Number(str(r[o + 1])),
    lastActivityAt: Number(str(r[o + 2])),
    userAgent: optUserAgent(r[o + 4]),
    ip: optStr(r[o + 5]),
    rotatePending: r[o + 6] === '1',
    boundAt: optTime(r[o + 8]),
  };
}

/** Sessions from a flat reply (id, u, c, a, d, g, i, r, q, kb per session) starting at `from`. */
function sessionsFrom(reply: unknown, from: number): StoredSession[] {
  if (!Array.isArray(reply) || (reply.length - from) % 10 !== 0) return badReply(reply);
  const out: StoredSession[] = [];
  for (let o = from; o < reply.length; o += 10) out.push(sessionAt(str(reply[o]), reply, o + 1));
  return out;
}

// A tombstone's `e` is the end reason as given, verbatim (the scripts never interpret it). Every
// EndReason must be listed here, the compiler checks that, or a tombstone with a new reason would be
// read as a bad reply.
const END_REASONS: ReadonlySet<string> = new Set(
  Object.keys({
    revoked: true,
    password_changed: true,
    account_disabled: true,
    evicted: true,
    logged_out: true,
    idle_timeout: true,
    absolute_timeout: true,
  } satisfies Record<EndReason, true>),
);

function missReason(v: unknown): StoreMiss {
  if (
    v === 'unknown' ||
    v === 'rotated' ||
    v === 'device_unbound' ||
    (typeof v === 'string' && END_REASONS.has(v))
  )
    return v as StoreMiss;
  return badReply(v);
}

type DeviceMiss = Extract<DeviceOutcome, { ok: false }>;

/** The refusals of the device scripts that are not a StoreMiss (the compiler keeps the list exact). */
const DEVICE_REFUSALS: ReadonlySet<string> = new Set(
  Object.keys({
    not_bound: true,
    already_bound: true,
    bad_challenge: true,
    wrong_key: true,
  } satisfies Record<Exclude<DeviceMiss['reason'], StoreMiss>, true>),
);

/** A device script's miss: {0, reason} | {2, reason, u, c, a, d, g, i, r, q, kb} (ended by this call). */
function deviceMiss(id: string, r: unknown[]): DeviceMiss {
  const reason =
    typeof r[1] === 'string' && DEVICE_REFUSALS.has(r[1]) ? (r[1] as DeviceMiss['reason']) : missReason(r[1]);
  if (r[0] === 2) return { ok: false, reason, ended: true, session: sessionAt(id, r, 2) };
  return r[0] === 0 ? { ok: false, reason } : badReply(r);
}

/** A device script's reply: {1, u, c, a, d, g, i, r, q, kb} or a miss. */
function deviceOutcome(id: string, r: unknown): DeviceOutcome {
  if (!Array.isArray(r)) return badReply(r);
  return r[0] === 1 ? { ok: true, session: sessionAt(id, r, 1) } : deviceMiss(id, r);
}

/** The algorithms a stored key can have (`ka`); anything else is a bad reply. */
const ALGS: ReadonlySet<string> = new Set(['ES256', 'RS256'] satisfies DeviceKey['alg'][]);

/** The Redis store makes its session ids itself: they carry the user's shard tag. */
export interface RedisSessionStore extends SessionStore {
  newSessionId(input: { userId: string }): string;
}

/**
 * A SessionStore over Redis or Redis Cluster (ioredis >= 5), see the key layout above.
 *
 * @example
 * const store = redisStore({
 *   client: new Redis(process.env.REDIS_URL, { enableOfflineQueue: false }),
 *   tagSecret: Buffer.from(process.env.SESSION_TAG_SECRET, 'base64'), // >= 32 bytes, kept and shared
 * });
 */
export function redisStore(options: RedisStoreOptions): RedisSessionStore {
  if (!options || typeof options !== 'object' || !options.client) {
    throw new SessionConfigError('redisStore needs { client }: a connected ioredis Redis or Cluster');
  }
  const client = options.client as unknown as ScriptClient;
  if (typeof client.evalsha !== 'function' || typeof client.eval !== 'function') {
    throw new SessionConfigError('redisStore: client must be an ioredis Redis or Cluster');
  }
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const keys = redisKeys({ prefix, tagSecret: options.tagSecret });

  /** One script call: EVALSHA, then EVAL if this server has not cached the script yet. */
  const run = (script: Script, numKeys: number, args: Arg[]): Promise<unknown> =>
    client
      .evalsha(script.sha, numKeys, ...args)
      .catch((error: unknown) =>
        isNoScript(error) ? client.eval(script.source, numKeys, ...args) : Promise.reject(error),
      );

  /** A script call that ends or re-keys sessions: with waitForReplicas, done only once replicas hold it. */
  const replicaWait = replicaWaitOption(options.waitForReplicas);
  const runDurable = (script: Script, numKeys: number, args: Arg[], changed: (reply: unknown) => boolean) =>
    replicaWait
      ? evalAndWait(options.client, script, numKeys, args, replicaWait, changed)
      : run(script, numKeys, args);
  const ended = (reply: unknown) => reply !== null;
  // A binding or a refresh written (a deadline end is not waited for, as validate's isn't: the next
  // call decides it the same way on any replica).
  const bindsOrRefreshes = (reply: unknown) => Array.isArray(reply) && reply[0] === 1;

  // ARGV[1] of every script: the policy and the prefix in one argument (each argument costs client
  // CPU on every validate), rebuilt only when the policy's numbers change.
  let context = '';
  let cached: StorePolicy = {
    idleMs: Number.NaN,
    absoluteMs: Number.NaN,
    tombstoneMs: Number.NaN,
    bindingGraceMs: Number.NaN,
  };
  const contextOf = (p: StorePolicy): string => {
    if (
      p.idleMs !== cached.idleMs ||
      p.absoluteMs !== cached.absoluteMs ||
      p.tombstoneMs !== cached.tombstoneMs ||
      p.bindingGraceMs !== cached.bindingGraceMs
    ) {
      cached = {
        idleMs: p.idleMs,
        absoluteMs: p.absoluteMs,
        tombstoneMs: p.tombstoneMs,
        bindingGraceMs: p.bindingGraceMs,
      };
      context = `${p.idleMs}|${p.absoluteMs}|${p.tombstoneMs}|${p.bindingGraceMs}|${prefix}`;
    }
    return context;
  };
  const common = (now: number, p: StorePolicy): Arg[] => [contextOf(p), now];

  /** Whether `id` is a session id from this user's shard (same tag), i.e. could be one of theirs. */
  const sameShard = (userId: string, id: string) =>
    isSessionId(id) && id.slice(0, TAG_LENGTH) === keys.tag(userId);

  // Failures (driver, script, unexpected reply) leave these methods as thrown: the manager's store
  // call is the one place that turns them into SessionStoreError. Only a misuse with a meaning of its
  // own is typed here (create's foreign session id, a SessionError the manager passes on as it is).
  return {
    name: 'redis',

    newSessionId: ({ userId }) => prefixedSessionId(keys.tag(userId)),

    async create({ session, limit, now, policy }): Promise<CreateOutcome> {
      if (!sameShard(session.userId, session.id)) {
        throw new SessionError(
          'INVALID_ARGUMENT',
          'session id must come from store.newSessionId({ userId })',
        );
      }
      const fields: Arg[] = [
        'h',
        hashText(session.tokenHash),
        'u',
        session.userId,
        'c',
        session.createdAt,
        'a',
        now,
        'd',
        JSON.stringify(session.data),
      ];
      if (session.userAgent != null) fields.push('g', encodeUserAgent(session.userAgent));
      if (session.ip != null) fields.push('i', session.ip);
      // The DBSC registration challenge offered with this sign-in: the only way it can ever bind.
      const challenge = session.deviceChallenge;
      if (challenge != null) fields.push('kc', hashText(challenge.hash), 'kcx', challenge.expiresAt);
      const max = Number.isFinite(limit.max) ? limit.max : 2 ** 31;
      const reply = await runDurable(
        SCRIPTS.create,
        2,
        [
          keys.userIndex(session.userId),
          keys.session(session.id),
          ...common(now, policy),
          session.id,
          max,
          limit.onLimit,
          session.createdAt,
          ...fields,
        ],
        (r) => Array.isArray(r) && r[0] === 1 && r.length > 1, // it evicted some
      );
      if (!Array.isArray(reply)) return badReply(reply);
      const sessions = sessionsFrom(reply, 1);
      return reply[0] === 1 ? { ok: true, evicted: sessions } : { ok: false, active: sessions };
    },

    // The hot path: one async frame, no closures, an 8-element reply.
    async validate(input): Promise<ValidateOutcome> {
      const { id, now } = input;
      if (!isSessionId(id)) return { ok: false, reason: 'unknown' };
      // EVALSHA with its arguments in place (no argument array, no spread, no closure per call). The
      // bound cookie's hash is an argument only when the request carried one (each one costs CPU).
      const key = keys.session(id);
      const ctx = contextOf(input.policy);
      const hash = hashText(input.tokenHash);
      const bound = input.boundHash ? hashText(input.boundHash) : null;
      let r: unknown;
      try {
        r =
          bound === null
            ? await client.evalsha(VALIDATE_SHA, 1, key, ctx, now, hash)
            : await client.evalsha(VALIDATE_SHA, 1, key, ctx, now, hash, bound);
      } catch (error) {
        if (!isNoScript(error)) throw error;
        const source = SCRIPTS.validate.source;
        r =
          bound === null
            ? await client.eval(source, 1, key, ctx, now, hash)
            : await client.eval(source, 1, key, ctx, now, hash, bound);
      }
      if (!Array.isArray(r)) return badReply(r);
      if (r[0] === 1) {
        // {1, u, c, d, g, i, r, kb}: a = now; q is already folded into d by the script.
        return {
          ok: true,
          session: {
            id,
            userId: str(r[1]),
            data: JSON.parse(str(r[3])) as SessionData,
            createdAt: Number(r[2]),
            lastActivityAt: now,
            userAgent: optUserAgent(r[4]),
            ip: optStr(r[5]),
            rotatePending: r[6] === '1',
            boundAt: optTime(r[7]),
          },
        };
      }
      const reason = missReason(r[1]);
      if (r[0] === 2) return { ok: false, reason, ended: true, session: sessionAt(id, r, 2) };
      return { ok: false, reason };
    },

    async rotate({ id, tokenHash, newTokenHash, patch, now, policy }) {
      if (!isSessionId(id)) return null;
      const r = await runDurable(
        SCRIPTS.rotate,
        1,
        [
          keys.session(id),
          ...common(now, policy),
          hashText(tokenHash),
          hashText(newTokenHash),
          patch ? JSON.stringify(patch) : '',
        ],
        ended,
      );
      if (r === null) return null;
      if (!Array.isArray(r)) return badReply(r);
      // {u, c, d, g, i, kb}: touched now, rotatePending cleared, q folded into d, the binding kept.
      return {
        id,
        userId: str(r[0]),
        data: JSON.parse(str(r[2])) as SessionData,
        createdAt: Number(str(r[1])),
        lastActivityAt: now,
        userAgent: optUserAgent(r[3]),
        ip: optStr(r[4]),
        rotatePending: false,
        boundAt: optTime(r[5]),
      };
    },

    async patch({ id, tokenHash, patch, now, policy }) {
      if (!isSessionId(id)) return null;
      const r = await run(SCRIPTS.patch, 1, [
        keys.session(id),
        ...common(now, policy),
        hashText(tokenHash),
        JSON.stringify(patch),
      ]);
      if (r === null) return null;
      if (!Array.isArray(r)) return badReply(r);
      return sessionAt(id, r, 0); // {u, c, a, d, g, i, r, q, kb}: q folded into d (r[7] is nil)
    },

    async logout({ id, tokenHash, now, policy }) {
      if (!isSessionId(id)) return null;
      const r = await runDurable(
        SCRIPTS.logout,
        1,
        [keys.session(id), ...common(now, policy), hashText(tokenHash), 'logged_out'],
        ended,
      );
      if (r === null) return null;
      if (!Array.isArray(r)) return badReply(r);
      return sessionAt(id, r, 0);
    },

    async revoke({ userId, id, reason, now, policy }) {
      // An id from another user's shard can't be theirs (and would be a cross-slot call on Cluster).
      if (!sameShard(userId, id)) return null;
      const r = await runDurable(
        SCRIPTS.revoke,
        2,
        [keys.session(id), keys.userIndex(userId), ...common(now, policy), userId, reason, id],
        ended,
      );
      if (r === null) return null;
      if (!Array.isArray(r)) return badReply(r);
      return sessionAt(id, r, 0);
    },

    async revokeAll({ userId, exceptId, reason, now, policy }) {
      const r = await runDurable(
        SCRIPTS.revokeAll,
        1,
        [keys.userIndex(userId), ...common(now, policy), exceptId ?? '', reason],
        (r) => Array.isArray(r) && r.length > 0,
      );
      return sessionsFrom(r, 0);
    },

    async list({ userId, now, policy }) {
      const r = await run(SCRIPTS.list, 1, [keys.userIndex(userId), ...common(now, policy)]);
      return sessionsFrom(r, 0);
    },

    async updateUser({ userId, patch, rotate, now, policy }) {
      const json = JSON.stringify(patch);
      const r = await runDurable(
        SCRIPTS.updateUser,
        1,
        [keys.userIndex(userId), ...common(now, policy), json === '{}' ? '' : json, rotate ? '1' : '0'],
        (r) => r !== 0,
      );
      return typeof r === 'number' ? r : badReply(r);
    },

    // Device binding (DBSC): one script each. They accept the previous token too, end a session found
    // past a deadline, and never touch lastActivityAt (./lua/lib.lua, deviceSession).

    async bindDevice({ id, tokenHash, challengeHash, key, bound, next, now, policy }) {
      if (!isSessionId(id)) return { ok: false, reason: 'unknown' };
      const r = await runDurable(
        SCRIPTS.bindDevice,
        1,
        [
          keys.session(id),
          ...common(now, policy),
          hashText(tokenHash),
          hashText(challengeHash),
          key.jkt,
          key.jwk,
          key.alg,
          hashText(bound.hash),
          bound.expiresAt,
          hashText(next.hash),
          next.expiresAt,
        ],
        bindsOrRefreshes,
      );
      return deviceOutcome(id, r);
    },

    async deviceChallenge({ id, tokenHash, challenge, now, policy }) {
      if (!isSessionId(id)) return { ok: false, reason: 'unknown' };
      const r = await run(SCRIPTS.deviceChallenge, 1, [
        keys.session(id),
        ...common(now, policy),
        hashText(tokenHash),
        hashText(challenge.hash),
        challenge.expiresAt,
      ]);
      return deviceOutcome(id, r);
    },

    async deviceKey({ id, tokenHash, now, policy }) {
      if (!isSessionId(id)) return { ok: false, reason: 'unknown' };
      const r = await run(SCRIPTS.deviceKey, 1, [
        keys.session(id),
        ...common(now, policy),
        hashText(tokenHash),
      ]);
      if (!Array.isArray(r)) return badReply(r);
      if (r[0] !== 1) return deviceMiss(id, r);
      // {1, u, c, a, d, g, i, r, q, kb, k, kj, ka}
      const alg = str(r[12]);
      if (r.length !== 13 || !ALGS.has(alg)) return badReply(r);
      return {
        ok: true,
        key: { jkt: str(r[10]), jwk: str(r[11]), alg: alg as DeviceKey['alg'] },
        session: sessionAt(id, r, 1),
      };
    },

    async refreshDevice({ id, tokenHash, jkt, challengeHash, bound, next, now, policy }) {
      if (!isSessionId(id)) return { ok: false, reason: 'unknown' };
      const r = await runDurable(
        SCRIPTS.refreshDevice,
        1,
        [
          keys.session(id),
          ...common(now, policy),
          hashText(tokenHash),
          jkt,
          hashText(challengeHash),
          hashText(bound.hash),
          bound.expiresAt,
          hashText(next.hash),
          next.expiresAt,
        ],
        bindsOrRefreshes,
      );
      return deviceOutcome(id, r);
    },
  };
}
