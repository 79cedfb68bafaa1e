/**
 * What the server counts for operators (METRICS_PORT: metrics/prometheus.ts serves them). Recorded
 * where the fact happens; when METRICS_PORT is unset the server uses `noMetrics`, so nothing is
 * counted and the request path pays nothing.
 */
import type { SessionEvent } from '@tessera/session-core';
import type { AuditEventInput } from '../audit/events.js';

export interface Metrics {
  /** session-core's lifecycle events: sessions created, ended by reason. */
  sessionEvent(event: SessionEvent): void;
  /** Security events: sign-ins by outcome, credential limits hit. */
  auditEvent(event: AuditEventInput): void;
  /** The request limit (RATE_LIMIT_REQUESTS_PER_MINUTE) refused a request. */
  requestLimited(): void;
  /** One `validate()` (session lookup) took `seconds` on `store`. */
  validateSeconds(store: string, seconds: number): void;
  /** A backing service could not answer (the failure a client sees as 503). */
  storeError(): void;
  /** A session-ended stream (SSE) opened; call the returned function when it closes. */
  streamOpened(): () => void;
  /**
   * A DBSC endpoint answered (http/dbsc-route.ts): session-core's outcome (`bound`, `refreshed`,
   * `challenged`, `ended`, `refused`) and its reason, null when there is none.
   */
  deviceAnswer(endpoint: 'register' | 'refresh', outcome: string, reason: string | null): void;
  /** A device-bound session's request came without a fresh bound cookie (401 `device_unbound`). */
  deviceUnbound(): void;
}

const nothing = () => {};

export const noMetrics: Metrics = {
  sessionEvent: nothing,
  auditEvent: nothing,
  requestLimited: nothing,
  validateSeconds: nothing,
  storeError: nothing,
  streamOpened: () => nothing,
  deviceAnswer: nothing,
  deviceUnbound: nothing,
};
