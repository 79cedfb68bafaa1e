/**
 * `Metrics` as Prometheus counts (prom-client), served by http/metrics-server.ts on METRICS_PORT.
 * Each call builds its own Registry, never prom-client's global one: a test (or a process hosting two
 * apps) can build several without "metric already registered", and nothing registered elsewhere in
 * the process leaks onto our scrape. docs/METRICS.md says what each series means.
 *
 * Cardinality: every label below takes its value from a short fixed list; anything else is counted
 * as 'other'. A label fed from input (an email, an IP, a user id, a free-text reason) would create a
 * series per distinct value, which grows the scrape and Prometheus' memory without bound.
 */

import type { EndReason } from '@tessera/session-core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Metrics } from './metrics.js';

/** The `reason` values of tessera_sessions_ended_total: session-core's EndReasons. */
export const ENDED_REASONS = [
  'logged_out',
  'revoked',
  'evicted',
  'password_changed',
  'idle_timeout',
  'absolute_timeout',
  'account_disabled',
] as const satisfies readonly EndReason[];
// A reason session-core adds must be listed above, or it would be counted as 'other': this stops
// compiling until it is.
const everyEndReasonListed: Exclude<EndReason, (typeof ENDED_REASONS)[number]> extends never ? true : never =
  true;
void everyEndReasonListed;

/** The `outcome` values of tessera_sign_ins_total: success, or the sign_in_failed reason. */
export const SIGN_IN_OUTCOMES = ['success', 'password', 'code', 'account_disabled'] as const;

/** The `limit` values of tessera_rate_limited_total: the credential limits (audit) and the request limit. */
export const RATE_LIMITS = ['credential_ip', 'credential_account', 'request'] as const;

/** The `store` values of tessera_session_validate_duration_seconds (compose.ts picks one). */
export const SESSION_STORES = ['redis', 'redis_cluster', 'postgres', 'pglite'] as const;

/** The `endpoint` values of tessera_dbsc_total. */
export const DBSC_ENDPOINTS = ['register', 'refresh'] as const;

/** The `outcome` values of tessera_dbsc_total: session-core's DeviceAnswer outcomes. */
export const DBSC_OUTCOMES = ['bound', 'refreshed', 'challenged', 'ended', 'refused'] as const;

/**
 * The `reason` values of tessera_dbsc_total: `none` (bound, refreshed, a first-leg challenge), then
 * what session-core and the route's edge guard give as a DeviceAnswer's reason.
 */
export const DBSC_REASONS = [
  'none',
  // The session: store misses (`continue: false` on refresh, 401 at registration) and binding state.
  'unknown',
  'rotated',
  ...ENDED_REASONS,
  'no_session',
  'other_session',
  'not_bound',
  'already_bound',
  'bad_challenge',
  'wrong_key',
  // The proof JWT.
  'too_large',
  'malformed',
  'bad_typ',
  'unsupported_alg',
  'bad_key',
  'bad_signature',
  'challenge_mismatch',
  'authorization_mismatch',
  // The headers.
  'response_missing',
  'response_malformed',
  'response_too_large',
  'session_id_missing',
  'session_id_malformed',
  'session_id_too_large',
  // The edge.
  'method_not_allowed',
  'cross_site',
  'cross_origin',
] as const;

const OTHER = 'other';

/** 0.1 ms (an in-process cache) to 1 s (a store in trouble); past 1 s falls in +Inf. */
export const VALIDATE_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

function bounded<T extends string>(allowed: readonly T[]): (value: string | null | undefined) => T | 'other' {
  const known = new Set<string>(allowed);
  return (value) => (value && known.has(value) ? (value as T) : OTHER);
}

export interface PrometheusMetrics {
  metrics: Metrics;
  /** This instance's registry: what /metrics serves. */
  registry: Registry;
}

export function prometheusMetrics(options: { prefix?: string } = {}): PrometheusMetrics {
  const prefix = options.prefix ?? 'tessera_';
  const registry = new Registry();
  const registers = [registry];

  const created = new Counter({
    name: `${prefix}sessions_created_total`,
    help: 'Sessions created (one per completed sign-in).',
    registers,
  });
  const rotated = new Counter({
    name: `${prefix}sessions_rotated_total`,
    help: 'Session tokens rotated (a role change, say); the session itself goes on.',
    registers,
  });
  const ended = new Counter({
    name: `${prefix}sessions_ended_total`,
    help: 'Sessions ended, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const signIns = new Counter({
    name: `${prefix}sign_ins_total`,
    help: "Sign-in attempts by outcome: success, or why it failed ('password', 'code', 'account_disabled').",
    labelNames: ['outcome'] as const,
    registers,
  });
  const rateLimited = new Counter({
    name: `${prefix}rate_limited_total`,
    help: 'Requests refused by a rate limit, by limit.',
    labelNames: ['limit'] as const,
    registers,
  });
  const validate = new Histogram({
    name: `${prefix}session_validate_duration_seconds`,
    help: 'Time to look a session up (session-core validate), by store.',
    labelNames: ['store'] as const,
    buckets: VALIDATE_BUCKETS,
    registers,
  });
  const storeErrors = new Counter({
    name: `${prefix}store_errors_total`,
    help: 'Requests that failed because a backing store could not answer (the client got 503).',
    registers,
  });
  const dbsc = new Counter({
    name: `${prefix}dbsc_total`,
    help: 'Answers of the DBSC endpoints (device-bound sessions), by endpoint, outcome and reason.',
    labelNames: ['endpoint', 'outcome', 'reason'] as const,
    registers,
  });
  const unbound = new Counter({
    name: `${prefix}dbsc_unbound_total`,
    help: 'Requests of a device-bound session refused for lack of a fresh bound cookie (device_unbound).',
    registers,
  });
  const streams = new Gauge({
    name: `${prefix}session_streams_open`,
    help: 'Session-ended streams (server-sent events) open on this instance.',
    registers,
  });
  // Unprefixed on purpose: process_* and nodejs_* are the names the usual Node.js dashboards expect.
  collectDefaultMetrics({ register: registry });

  // Every known series exists from the first scrape, at 0: rate() and increase() need a starting
  // sample, and an alert can tell "nothing happened" from "never reported".
  for (const reason of ENDED_REASONS) ended.inc({ reason }, 0);
  for (const outcome of SIGN_IN_OUTCOMES) signIns.inc({ outcome }, 0);
  for (const limit of RATE_LIMITS) rateLimited.inc({ limit }, 0);
  // What a working deployment does: bind, refresh, challenge first legs.
  dbsc.inc({ endpoint: 'register', outcome: 'bound', reason: 'none' }, 0);
  dbsc.inc({ endpoint: 'refresh', outcome: 'refreshed', reason: 'none' }, 0);
  dbsc.inc({ endpoint: 'refresh', outcome: 'challenged', reason: 'none' }, 0);

  const endedReason = bounded(ENDED_REASONS);
  const signInOutcome = bounded(SIGN_IN_OUTCOMES);
  const limitName = bounded(RATE_LIMITS);
  const storeName = bounded(SESSION_STORES);
  const dbscEndpoint = bounded(DBSC_ENDPOINTS);
  const dbscOutcome = bounded(DBSC_OUTCOMES);
  const dbscReason = bounded(DBSC_REASONS);

  const metrics: Metrics = {
    sessionEvent(event) {
      switch (event.type) {
        case 'created':
          created.inc();
          return;
        case 'rotated':
          rotated.inc();
          return;
        case 'device_bound':
        case 'device_refused':
          // Counted from the endpoints' answers (deviceAnswer); these end nothing.
          return;
        default:
          ended.inc({ reason: endedReason(event.reason) });
      }
    },
    auditEvent(event) {
      switch (event.type) {
        case 'sign_in':
          signIns.inc({ outcome: 'success' });
          return;
        case 'sign_in_failed':
          signIns.inc({ outcome: signInOutcome(event.reason) });
          return;
        case 'rate_limited':
          rateLimited.inc({ limit: limitName(event.reason) });
          return;
        default:
          // Other security events (MFA, roles, accounts) are rare: the audit log has them.
          return;
      }
    },
    requestLimited() {
      rateLimited.inc({ limit: 'request' });
    },
    validateSeconds(store, seconds) {
      // Called on the request path: a bad measurement is dropped, never thrown to the request.
      if (!Number.isFinite(seconds) || seconds < 0) return;
      validate.observe({ store: storeName(store) }, seconds);
    },
    storeError() {
      storeErrors.inc();
    },
    deviceAnswer(endpoint, outcome, reason) {
      dbsc.inc({
        endpoint: dbscEndpoint(endpoint),
        outcome: dbscOutcome(outcome),
        reason: dbscReason(reason ?? 'none'),
      });
    },
    deviceUnbound() {
      unbound.inc();
    },
    streamOpened() {
      streams.inc();
      let open = true;
      // Idempotent: a stream's teardown can run from more than one path (abort, end, server close).
      return () => {
        if (!open) return;
        open = false;
        streams.dec();
      };
    },
  };
  return { metrics, registry };
}
