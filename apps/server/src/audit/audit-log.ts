/**
 * The audit trail in the users database (tessera_audit_events, infra/migrations.ts version 5), in
 * every configuration: PostgreSQL or the embedded PGlite, also when sessions live in Redis.
 *
 * Off the request path: `record()` checks and trims the event, queues it in memory and returns; a
 * timer writes the queue in batches, one multi-row INSERT per batch. The action an event records has
 * already happened when it is recorded, and it always wins: an audit write never blocks, delays or
 * fails a sign-out or any other request. What that costs when the database can't be written:
 *  - a failed write keeps its batch and is retried with a growing pause (an outage loses nothing
 *    that fits in the queue);
 *  - the queue is bounded (`maxQueued`): when it is full the OLDEST queued events are dropped,
 *    counted, and logged once per episode (when it starts and when it ends, with the count);
 *  - `close()` (shutdown) tries once more and logs how many events it could not write.
 * A batch the database refuses for another reason than being unavailable (a bug: a constraint) is
 * written one event at a time, so one bad event can't hold back the others; the refused one is
 * logged and dropped.
 *
 * Nothing secret is stored (docs/SECURITY.md, "Audit trail"): `detail` keys that look like a secret
 * (token, password, secret, code, ...) are dropped by design, with a warning, whatever their value.
 *
 * Listed newest first by the time of the event, then by id (write order) among events of the same
 * millisecond; the cursor is that pair, `<at>_<id>`. By time rather than by id alone: events from
 * several instances, or kept through an outage, are written out of order, and a time range must read
 * an index range (infra/migrations.ts version 5 says which index serves which query).
 */
import type { Logger } from 'pino';
import { type Database, toNumber } from '../infra/database.js';
import { isUnavailable } from '../infra/unavailable.js';
import type { Metrics } from '../metrics/metrics.js';
import {
  type ActorKind,
  AUDIT_EVENT_TYPES,
  type AuditEvent,
  type AuditEventInput,
  type AuditEventType,
  type AuditLog,
  type AuditPage,
  type AuditQuery,
} from './events.js';

export interface SqlAuditLogOptions {
  /** ms since epoch: an event's time when it does not bring one, and pruning's "now". */
  clock: () => number;
  log: Logger;
  /** How long events are kept (AUDIT_RETENTION); `prune(now)` deletes older ones. */
  retentionMs: number;
  /** Every recorded event is counted there (`auditEvent`): sign-ins by outcome, limits hit. */
  metrics?: Pick<Metrics, 'auditEvent'>;
  /** Events per INSERT. Default 100 (at most 1,000: 11 parameters per event). */
  batchSize?: number;
  /** How long an event waits for others before it is written; a full batch goes at once. Default 50 ms. */
  flushEveryMs?: number;
  /** Events held in memory while the database can't be written; then the oldest go. Default 10,000. */
  maxQueued?: number;
  /** The longest pause between retries of a failed write (the pause doubles up to it). Default 5 s. */
  maxRetryDelayMs?: number;
  /** Rows per DELETE when pruning, so a large backlog never holds a long lock. Default 5,000. */
  pruneChunk?: number;
}

/** A `cursor` that is not one this log handed out (tampered with, or from elsewhere). */
export class InvalidAuditCursorError extends Error {
  constructor() {
    super('Invalid audit cursor');
    this.name = 'InvalidAuditCursorError';
  }
}

/** The most events a page can hold (AuditQuery.limit). */
export const MAX_AUDIT_PAGE = 100;

const MAX_USER_AGENT = 512;
const MAX_REASON = 64;
const MAX_IP = 64;
const MAX_ID = 128;
const MAX_DETAIL_KEYS = 8;
const MAX_DETAIL_STRING = 128;
/** `detail` keys refused whatever their value: no secret can slip in under a telling name. */
const SECRET_KEY = /token|passw|secret|code|otp|cookie|credential|hash/i;
const DETAIL_KEY = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;
/** End reasons, failure kinds, limit names: identifiers, never free text. */
const REASON = /^[a-z][a-z0-9_]*$/;
/** `<at>_<id>`: digits and an underscore, so it passes as base64url wherever a cursor is checked. */
const CURSOR = /^(0|[1-9][0-9]{0,15})_([1-9][0-9]{0,18})$/;
const MAX_BIGINT = 9223372036854775807n;

const TYPES: ReadonlySet<string> = new Set(AUDIT_EVENT_TYPES);
const ACTOR_KINDS: ReadonlySet<string> = new Set<ActorKind>(['self', 'session', 'admin', 'system']);

const COLUMNS = [
  'at',
  'type',
  'user_id',
  'actor_kind',
  'actor_user_id',
  'actor_session_id',
  'ip',
  'user_agent',
  'session_id',
  'reason',
  'detail',
] as const;

/** One event as written: the values of COLUMNS, in order (detail as JSON text). */
type Row = [
  at: number,
  type: AuditEventType,
  userId: string | null,
  actorKind: ActorKind,
  actorUserId: string | null,
  actorSessionId: string | null,
  ip: string | null,
  userAgent: string | null,
  sessionId: string | null,
  reason: string | null,
  detail: string,
];

const cut = (value: unknown, max: number): string | null =>
  typeof value === 'string' && value.length > 0 ? value.slice(0, max) : null;

export function sqlAuditLog(db: Database, options: SqlAuditLogOptions): AuditLog {
  const { clock, log, retentionMs, metrics } = options;
  const maxQueued = Math.max(1, options.maxQueued ?? 10_000);
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 100, 1_000, maxQueued));
  const flushEveryMs = Math.max(0, options.flushEveryMs ?? 50);
  const maxRetryDelayMs = Math.max(flushEveryMs, options.maxRetryDelayMs ?? 5_000);
  const pruneChunk = Math.max(1, options.pruneChunk ?? 5_000);

  let queue: Row[] = [];
  /** Events taken from the queue by the write in progress (they count against `maxQueued`). */
  let inFlight = 0;
  let timer: NodeJS.Timeout | null = null;
  let writer: Promise<void> | null = null;
  /** Consecutive failed writes (0: healthy); sets the retry pause. */
  let failures = 0;
  /** Events dropped since the queue last overflowed (0: no overflow episode going on). */
  let dropped = 0;
  let closed = false;

  // A misbehaving caller (a secret-looking detail key, say) must not flood the log: one line per kind.
  const warned = new Set<string>();
  const warnOnce = (key: string, fields: Record<string, unknown>, message: string) => {
    if (warned.has(key) || warned.size >= 100) return;
    warned.add(key);
    log.warn(fields, message);
  };

  function detailOf(event: AuditEventInput): string {
    const out: Record<string, string | number | boolean | null> = {};
    let kept = 0;
    for (const [key, value] of Object.entries(event.detail ?? {})) {
      if (SECRET_KEY.test(key)) {
        warnOnce(
          `secret:${event.type}:${key}`,
          { type: event.type, key },
          'audit: a detail key that looks like a secret was dropped (never store secrets in events)',
        );
        continue;
      }
      if (!DETAIL_KEY.test(key) || kept >= MAX_DETAIL_KEYS) {
        warnOnce(`key:${event.type}:${key.slice(0, 40)}`, { type: event.type }, 'audit: detail key dropped');
        continue;
      }
      if (typeof value === 'string') out[key] = value.slice(0, MAX_DETAIL_STRING);
      else if (typeof value === 'boolean' || value === null) out[key] = value;
      else if (typeof value === 'number' && Number.isFinite(value)) out[key] = value;
      else continue;
      kept++;
    }
    return JSON.stringify(out);
  }

  /** The row to write, or null (after a log line) for an event that can't be recorded at all. */
  function rowOf(event: AuditEventInput): Row | null {
    if (!TYPES.has(event.type)) {
      warnOnce(`type:${String(event.type).slice(0, 40)}`, { type: event.type }, 'audit: unknown event type');
      return null;
    }
    let reason = cut(event.reason, MAX_REASON);
    if (reason !== null && !REASON.test(reason)) {
      warnOnce(`reason:${event.type}`, { type: event.type }, 'audit: reason is not an identifier, dropped');
      reason = null;
    }
    const actor = event.actor ?? { kind: 'system', userId: null, sessionId: null };
    const kind: ActorKind = ACTOR_KINDS.has(actor.kind) ? actor.kind : 'system';
    const given = typeof event.at === 'number' && Number.isFinite(event.at) ? event.at : clock();
    const at = Math.min(Math.max(0, Math.trunc(given)), Number.MAX_SAFE_INTEGER);
    return [
      at,
      event.type,
      cut(event.userId, MAX_ID),
      kind,
      cut(actor.userId, MAX_ID),
      cut(actor.sessionId, MAX_ID),
      cut(event.ip, MAX_IP),
      cut(event.userAgent, MAX_USER_AGENT),
      cut(event.sessionId, MAX_ID),
      reason,
      detailOf(event),
    ];
  }

  async function insert(rows: Row[]): Promise<void> {
    const params: unknown[] = [];
    const tuples = rows.map((row) => {
      const start = params.length;
      params.push(...row);
      const marks = row.map((_, i) => `$${start + i + 1}`);
      marks[marks.length - 1] += '::jsonb';
      return `(${marks.join(', ')})`;
    });
    await db.query(
      `INSERT INTO tessera_audit_events (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`,
      params,
    );
  }

  /** Writes one batch from the head of the queue; rejects (batch back in the queue) on an outage. */
  async function writeBatch(): Promise<void> {
    const batch = queue.splice(0, batchSize);
    inFlight = batch.length;
    try {
      await insert(batch);
    } catch (error) {
      if (isUnavailable(error)) {
        queue = batch.concat(queue);
        throw error;
      }
      // Not an outage: some event of the batch is refused. Write them one by one.
      for (let i = 0; i < batch.length; i++) {
        try {
          await insert([batch[i]!]);
        } catch (single) {
          if (isUnavailable(single)) {
            queue = batch.slice(i).concat(queue);
            throw single;
          }
          log.error({ err: single, type: batch[i]![1] }, 'audit: the database refused an event; dropped');
        }
      }
    } finally {
      inFlight = 0;
    }
  }

  /** Drains the queue, batch after batch. Rejects when a write fails (the rest stays queued). */
  async function write(): Promise<void> {
    try {
      while (queue.length > 0) await writeBatch();
      if (failures > 0) log.info('audit: events are written again');
      failures = 0;
      if (dropped > 0) {
        log.warn({ dropped }, 'audit: the event queue overflowed; its oldest events were dropped');
        dropped = 0;
      }
    } catch (error) {
      failures++;
      if (failures === 1) {
        log.warn(
          { err: error, queued: queue.length },
          'audit: events cannot be written (database unavailable); they stay queued and are retried',
        );
      }
      retryLater();
      throw error;
    }
  }

  /** The single writer: the write in progress, or a new one. */
  function drain(): Promise<void> {
    if (writer) return writer;
    // Cleared in a callback (always asynchronous), so never before it was set, even for a write
    // that finishes at once; then whatever was recorded after the last batch went out gets its timer.
    const current: Promise<void> = write().finally(() => {
      if (writer === current) writer = null;
      schedule();
    });
    writer = current;
    return current;
  }

  const run = () => {
    timer = null;
    drain().catch(() => {}); // drain logged it and set the retry
  };

  function retryLater() {
    if (closed || timer) return;
    const delay = Math.min(maxRetryDelayMs, Math.max(flushEveryMs, 50) * 2 ** Math.min(failures, 16));
    timer = setTimeout(run, delay);
    timer.unref();
  }

  /** Starts the timer for what is queued: a full batch at once, else after `flushEveryMs`. */
  function schedule() {
    if (closed || writer || queue.length === 0) return;
    const full = queue.length >= batchSize && failures === 0;
    if (timer && !full) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, full ? 0 : flushEveryMs);
    timer.unref();
  }

  async function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (writer) await writer.catch(() => {});
    if (queue.length > 0) await drain();
  }

  return {
    record(event) {
      try {
        if (closed) {
          warnOnce('closed', { type: event.type }, 'audit: event recorded after close(); dropped');
          return;
        }
        const row = rowOf(event);
        if (!row) return;
        if (queue.length + inFlight >= maxQueued) {
          // The newest events say the most about what is going on now: drop the oldest queued one
          // (or this one, when every queued event is being written right now).
          if (dropped++ === 0) {
            log.warn(
              { maxQueued },
              'audit: the event queue is full (database unavailable?): dropping the oldest events',
            );
          }
          if (queue.length === 0) return;
          queue.shift();
        }
        queue.push(row);
        schedule();
        metrics?.auditEvent(event);
      } catch (error) {
        // Never the caller's problem: the action stands whatever happens to its record.
        log.error({ err: error }, 'audit: could not record an event');
      }
    },

    async list(query: AuditQuery): Promise<AuditPage> {
      const { limit } = query;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) {
        throw new RangeError(`audit: limit must be an integer from 1 to ${MAX_AUDIT_PAGE}`);
      }
      const where: string[] = [];
      const params: unknown[] = [];
      const param = (value: unknown) => {
        params.push(value);
        return `$${params.length}`;
      };
      if (query.userId !== undefined) where.push(`user_id = ${param(query.userId)}`);
      if (query.types && query.types.length > 0) {
        const unknown = query.types.find((t) => !TYPES.has(t));
        if (unknown !== undefined) throw new RangeError(`audit: unknown event type ${String(unknown)}`);
        where.push(`type IN (${[...new Set(query.types)].map(param).join(', ')})`);
      }
      if (query.from !== undefined) where.push(`at >= ${param(bound('from', query.from))}`);
      if (query.to !== undefined) where.push(`at < ${param(bound('to', query.to))}`);
      if (query.cursor != null) {
        const after = parseCursor(query.cursor);
        where.push(`(at, id) < (${param(after.at)}::bigint, ${param(after.id)}::bigint)`);
      }
      const rows = await db.query(
        `SELECT id, at, type, user_id, actor_kind, actor_user_id, actor_session_id, ip, user_agent,
                session_id, reason, detail
           FROM tessera_audit_events
          ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
          ORDER BY at DESC, id DESC
          LIMIT ${param(limit + 1)}`,
        params,
      );
      const events = rows.slice(0, limit).map(toEvent);
      const last = events[events.length - 1];
      return { events, nextCursor: rows.length > limit && last ? `${last.at}_${last.id}` : null };
    },

    flush,

    async prune(now) {
      const cutoff = now - retentionMs;
      let total = 0;
      // Chunk after chunk, oldest first, each its own short statement: a backlog of millions (a long
      // outage of the sweep, a shortened AUDIT_RETENTION) never holds a lock for long.
      for (;;) {
        // ARRAY(...) so the chunk's rows are found by primary key, never by a scan of the table.
        const rows = await db.query(
          `DELETE FROM tessera_audit_events
            WHERE id = ANY (ARRAY(SELECT id FROM tessera_audit_events WHERE at < $1 ORDER BY at LIMIT $2))
            RETURNING 1 AS gone`,
          [cutoff, pruneChunk],
        );
        total += rows.length;
        if (rows.length < pruneChunk) return total;
      }
    },

    async close() {
      if (closed) return;
      try {
        await flush();
      } catch (error) {
        log.error(
          { err: error, lost: queue.length },
          'audit: events could not be written before shutdown and are lost',
        );
      } finally {
        closed = true;
        if (timer) clearTimeout(timer);
        timer = null;
        queue = [];
      }
    },
  };
}

function bound(name: string, value: number): number {
  if (!Number.isFinite(value)) throw new RangeError(`audit: ${name} must be a time in ms`);
  return Math.trunc(value);
}

function parseCursor(cursor: string): { at: string; id: string } {
  const match = typeof cursor === 'string' ? CURSOR.exec(cursor) : null;
  if (!match || Number(match[1]) > Number.MAX_SAFE_INTEGER || BigInt(match[2]!) > MAX_BIGINT) {
    throw new InvalidAuditCursorError();
  }
  return { at: match[1]!, id: match[2]! };
}

function toEvent(row: Record<string, unknown>): AuditEvent {
  const text = (value: unknown) => (value == null ? null : String(value));
  const detail = typeof row.detail === 'string' ? JSON.parse(row.detail) : row.detail;
  return {
    id: String(row.id),
    at: toNumber(row.at),
    type: row.type as AuditEventType,
    userId: text(row.user_id),
    actor: {
      kind: row.actor_kind as ActorKind,
      userId: text(row.actor_user_id),
      sessionId: text(row.actor_session_id),
    },
    ip: text(row.ip),
    userAgent: text(row.user_agent),
    sessionId: text(row.session_id),
    reason: text(row.reason),
    detail: (detail ?? {}) as AuditEvent['detail'],
  };
}
