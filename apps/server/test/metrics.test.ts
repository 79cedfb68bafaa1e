/**
 * METRICS_PORT: the Prometheus listener, scraped over real HTTP. Every Metrics method is driven and
 * the exposition text parsed back (names, HELP/TYPE, labels, values); label values stay within their
 * fixed lists whatever is passed in; the listener answers /metrics only, and the public app never
 * serves it.
 */
import type { SessionEvent } from '@tessera/session-core';
import { pino } from 'pino';
import { Gauge } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEventInput, AuditEventType } from '../src/audit/events.js';
import { type MetricsServer, startMetricsServer } from '../src/http/metrics-server.js';
import {
  DBSC_ENDPOINTS,
  DBSC_OUTCOMES,
  DBSC_REASONS,
  ENDED_REASONS,
  prometheusMetrics,
  RATE_LIMITS,
  SESSION_STORES,
  SIGN_IN_OUTCOMES,
} from '../src/metrics/prometheus.js';
import { startApp, type TestApp } from './helpers/app.js';

const silent = pino({ level: 'silent' });

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Scrape {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Sample[];
}

/** The Prometheus text format (0.0.4), strictly enough that a malformed line fails the test. */
function parseExposition(text: string): Scrape {
  const scrape: Scrape = { help: new Map(), type: new Map(), samples: [] };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? scrape.help : scrape.type).set(meta[2]!, meta[3]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(sample, `a sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    const body = sample![2] ?? '';
    const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    let m: RegExpExecArray | null;
    let read = 0;
    // biome-ignore lint/suspicious/noAssignInExpressions: the usual sticky-regex loop
    while ((m = pair.exec(body))) {
      labels[m[1]!] = m[2]!;
      read = pair.lastIndex;
    }
    expect(read, `labels fully parsed: ${line}`).toBe(body.length);
    const raw = sample![3]!;
    // Prometheus reads values with Go's ParseFloat: "+Inf", "-Inf" and NaN in any case (prom-client
    // writes "Nan" for an event-loop mean with no sample yet).
    const value = /^[+-]?inf$/i.test(raw)
      ? raw.startsWith('-')
        ? -Infinity
        : Infinity
      : /^nan$/i.test(raw)
        ? Number.NaN
        : Number(raw);
    expect(/^nan$/i.test(raw) || !Number.isNaN(value), `a numeric value: ${line}`).toBe(true);
    scrape.samples.push({ name: sample![1]!, labels, value });
  }
  return scrape;
}

/** The one sample with this name and exactly these labels. */
function value(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  const found = scrape.samples.filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  expect(found, `${name}${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0]!.value;
}

async function scrape(url: string): Promise<{ res: Response; parsed: Scrape; text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  return { res, text, parsed: parseExposition(text) };
}

const ended = (type: SessionEvent['type'], reason?: string): SessionEvent =>
  ({ type, sessionId: 's', userId: 'u', at: 0, ...(reason ? { reason } : {}) }) as SessionEvent;

const audit = (type: AuditEventType, reason: string | null): AuditEventInput => ({
  type,
  reason,
  userId: null,
  actor: { kind: 'self', userId: null, sessionId: null },
  ip: '203.0.113.9',
  userAgent: 'test',
  sessionId: null,
});

describe('the metrics listener', () => {
  const { metrics, registry } = prometheusMetrics();
  let server: MetricsServer;
  beforeAll(async () => {
    server = await startMetricsServer({ registry, port: 0, host: '127.0.0.1', log: silent });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('listens on the given host, at /metrics', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  });

  it('reports every known series from the start, at 0, plus the default process metrics', async () => {
    const { res, parsed } = await scrape(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(registry.contentType);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const reason of ENDED_REASONS)
      expect(value(parsed, 'tessera_sessions_ended_total', { reason })).toBe(0);
    for (const outcome of SIGN_IN_OUTCOMES)
      expect(value(parsed, 'tessera_sign_ins_total', { outcome })).toBe(0);
    for (const limit of RATE_LIMITS) expect(value(parsed, 'tessera_rate_limited_total', { limit })).toBe(0);
    expect(value(parsed, 'tessera_sessions_created_total')).toBe(0);
    expect(value(parsed, 'tessera_store_errors_total')).toBe(0);
    expect(value(parsed, 'tessera_session_streams_open')).toBe(0);
    expect(value(parsed, 'tessera_dbsc_unbound_total')).toBe(0);
    for (const [endpoint, outcome] of [
      ['register', 'bound'],
      ['refresh', 'refreshed'],
      ['refresh', 'challenged'],
    ] as const)
      expect(value(parsed, 'tessera_dbsc_total', { endpoint, outcome, reason: 'none' })).toBe(0);
    // Default metrics, under their usual (unprefixed) names.
    expect(parsed.type.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(parsed.type.get('process_start_time_seconds')).toBe('gauge');
    expect(parsed.type.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(parsed.type.get('nodejs_heap_size_used_bytes')).toBe('gauge');
    expect(value(parsed, 'process_start_time_seconds')).toBeGreaterThan(1_600_000_000);
  });

  it('counts what each Metrics method records, with bounded labels', async () => {
    metrics.sessionEvent(ended('created'));
    metrics.sessionEvent(ended('created'));
    metrics.sessionEvent(ended('rotated'));
    metrics.sessionEvent(ended('logged_out', 'logged_out'));
    metrics.sessionEvent(ended('revoked', 'revoked'));
    metrics.sessionEvent(ended('revoked', 'password_changed'));
    metrics.sessionEvent(ended('evicted', 'evicted'));
    metrics.sessionEvent(ended('evicted', 'evicted'));
    metrics.sessionEvent(ended('expired', 'idle_timeout'));
    metrics.sessionEvent(ended('expired', 'absolute_timeout'));
    metrics.sessionEvent(ended('revoked', 'not-a-reason-we-know'));
    metrics.sessionEvent(ended('revoked'));
    // Device-binding events end nothing: counted from the endpoints' answers instead.
    metrics.sessionEvent(ended('device_bound'));
    metrics.sessionEvent(ended('device_refused'));

    metrics.auditEvent(audit('sign_in', null));
    metrics.auditEvent(audit('sign_in', null));
    metrics.auditEvent(audit('sign_in', null));
    metrics.auditEvent(audit('sign_in_failed', 'password'));
    metrics.auditEvent(audit('sign_in_failed', 'password'));
    metrics.auditEvent(audit('sign_in_failed', 'code'));
    metrics.auditEvent(audit('sign_in_failed', 'account_disabled'));
    metrics.auditEvent(audit('sign_in_failed', 'someone@example.com'));
    metrics.auditEvent(audit('sign_in_failed', null));
    metrics.auditEvent(audit('rate_limited', 'credential_ip'));
    metrics.auditEvent(audit('rate_limited', 'credential_account'));
    metrics.auditEvent(audit('rate_limited', 'credential_account'));
    metrics.auditEvent(audit('rate_limited', '203.0.113.9'));
    metrics.auditEvent(audit('mfa_enabled', null));
    metrics.auditEvent(audit('session_ended', 'revoked'));
    metrics.requestLimited();
    metrics.requestLimited();

    metrics.validateSeconds('redis', 0.0003);
    metrics.validateSeconds('redis', 0.002);
    metrics.validateSeconds('postgres', 0.7);
    metrics.validateSeconds('postgres', 3);
    metrics.validateSeconds('a store from nowhere', 0.01);
    metrics.validateSeconds('redis', Number.NaN);
    metrics.validateSeconds('redis', -1);

    metrics.storeError();
    metrics.storeError();
    metrics.storeError();

    metrics.deviceAnswer('register', 'bound', null);
    metrics.deviceAnswer('refresh', 'challenged', null);
    metrics.deviceAnswer('refresh', 'challenged', 'bad_challenge');
    metrics.deviceAnswer('refresh', 'refreshed', null);
    metrics.deviceAnswer('refresh', 'refreshed', null);
    metrics.deviceAnswer('refresh', 'ended', 'revoked');
    metrics.deviceAnswer('refresh', 'refused', 'bad_signature');
    metrics.deviceAnswer('register', 'refused', 'cross_origin');
    metrics.deviceAnswer('refresh', 'refused', 'someone@example.com');
    metrics.deviceAnswer('/etc/passwd' as 'refresh', 'whatever', 'none');
    metrics.deviceUnbound();
    metrics.deviceUnbound();

    const closeA = metrics.streamOpened();
    metrics.streamOpened();
    const closeC = metrics.streamOpened();
    metrics.streamOpened();
    closeA();
    closeA(); // a second close of the same stream changes nothing
    closeC();

    const { parsed } = await scrape(server.url);

    expect(value(parsed, 'tessera_sessions_created_total')).toBe(2);
    expect(value(parsed, 'tessera_sessions_rotated_total')).toBe(1);
    const endedBy = (reason: string) => value(parsed, 'tessera_sessions_ended_total', { reason });
    expect(endedBy('logged_out')).toBe(1);
    expect(endedBy('revoked')).toBe(1);
    expect(endedBy('password_changed')).toBe(1);
    expect(endedBy('evicted')).toBe(2);
    expect(endedBy('idle_timeout')).toBe(1);
    expect(endedBy('absolute_timeout')).toBe(1);
    expect(endedBy('account_disabled')).toBe(0);
    expect(endedBy('other')).toBe(2);

    const signIns = (outcome: string) => value(parsed, 'tessera_sign_ins_total', { outcome });
    expect(signIns('success')).toBe(3);
    expect(signIns('password')).toBe(2);
    expect(signIns('code')).toBe(1);
    expect(signIns('account_disabled')).toBe(1);
    expect(signIns('other')).toBe(2);

    const limited = (limit: string) => value(parsed, 'tessera_rate_limited_total', { limit });
    expect(limited('credential_ip')).toBe(1);
    expect(limited('credential_account')).toBe(2);
    expect(limited('request')).toBe(2);
    expect(limited('other')).toBe(1);

    const bucket = (store: string, le: string) =>
      value(parsed, 'tessera_session_validate_duration_seconds_bucket', { store, le });
    // Buckets are cumulative: 0.3 ms lands at le=0.0005, 2 ms at le=0.0025.
    expect(bucket('redis', '0.0001')).toBe(0);
    expect(bucket('redis', '0.00025')).toBe(0);
    expect(bucket('redis', '0.0005')).toBe(1);
    expect(bucket('redis', '0.001')).toBe(1);
    expect(bucket('redis', '0.0025')).toBe(2);
    expect(bucket('redis', '+Inf')).toBe(2);
    expect(value(parsed, 'tessera_session_validate_duration_seconds_count', { store: 'redis' })).toBe(2);
    expect(value(parsed, 'tessera_session_validate_duration_seconds_sum', { store: 'redis' })).toBeCloseTo(
      0.0023,
      9,
    );
    expect(bucket('postgres', '0.5')).toBe(0);
    expect(bucket('postgres', '1')).toBe(1);
    expect(bucket('postgres', '+Inf')).toBe(2);
    expect(value(parsed, 'tessera_session_validate_duration_seconds_count', { store: 'other' })).toBe(1);

    expect(value(parsed, 'tessera_store_errors_total')).toBe(3);
    expect(value(parsed, 'tessera_session_streams_open')).toBe(2);

    const dbsc = (endpoint: string, outcome: string, reason: string) =>
      value(parsed, 'tessera_dbsc_total', { endpoint, outcome, reason });
    expect(dbsc('register', 'bound', 'none')).toBe(1);
    expect(dbsc('refresh', 'challenged', 'none')).toBe(1);
    expect(dbsc('refresh', 'challenged', 'bad_challenge')).toBe(1);
    expect(dbsc('refresh', 'refreshed', 'none')).toBe(2);
    expect(dbsc('refresh', 'ended', 'revoked')).toBe(1);
    expect(dbsc('refresh', 'refused', 'bad_signature')).toBe(1);
    expect(dbsc('register', 'refused', 'cross_origin')).toBe(1);
    expect(dbsc('refresh', 'refused', 'other')).toBe(1);
    expect(dbsc('other', 'other', 'none')).toBe(1);
    expect(value(parsed, 'tessera_dbsc_unbound_total')).toBe(2);

    // HELP and TYPE for each of ours, with the Prometheus naming conventions.
    const ours = {
      tessera_sessions_created_total: 'counter',
      tessera_sessions_rotated_total: 'counter',
      tessera_sessions_ended_total: 'counter',
      tessera_sign_ins_total: 'counter',
      tessera_rate_limited_total: 'counter',
      tessera_session_validate_duration_seconds: 'histogram',
      tessera_store_errors_total: 'counter',
      tessera_session_streams_open: 'gauge',
      tessera_dbsc_total: 'counter',
      tessera_dbsc_unbound_total: 'counter',
    };
    for (const [name, type] of Object.entries(ours)) {
      expect(parsed.type.get(name), name).toBe(type);
      expect(parsed.help.get(name)?.length, name).toBeGreaterThan(10);
    }
    expect([...parsed.type.keys()].filter((n) => n.startsWith('tessera_')).sort()).toEqual(
      Object.keys(ours).sort(),
    );

    // Cardinality: whatever was passed in (an email, an IP, a made-up store), every label value of
    // ours is from its fixed list or 'other'.
    const allowed: Record<string, readonly string[]> = {
      reason: ENDED_REASONS,
      outcome: SIGN_IN_OUTCOMES,
      limit: RATE_LIMITS,
      store: SESSION_STORES,
    };
    const allowedDbsc: Record<string, readonly string[]> = {
      endpoint: DBSC_ENDPOINTS,
      outcome: DBSC_OUTCOMES,
      reason: DBSC_REASONS,
    };
    for (const s of parsed.samples.filter((x) => x.name.startsWith('tessera_'))) {
      const lists = s.name === 'tessera_dbsc_total' ? allowedDbsc : allowed;
      for (const [label, v] of Object.entries(s.labels)) {
        if (label === 'le') continue;
        expect([...(lists[label] ?? []), 'other'], `${s.name} ${label}="${v}"`).toContain(v);
      }
    }
  });

  it('answers HEAD and ignores a query string', async () => {
    const head = await fetch(server.url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe(registry.contentType);
    expect(await head.text()).toBe('');
    const withQuery = await fetch(`${server.url}?name[]=x`);
    expect(withQuery.status).toBe(200);
    expect(await withQuery.text()).toContain('# TYPE tessera_sessions_created_total counter');
  });

  it('404s every other path and 405s every other method', async () => {
    const base = server.url.replace(/\/metrics$/, '');
    for (const path of ['/', '/metrics/', '/metricsx', '/trpc/auth.me', '/healthz']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text()).not.toContain('# TYPE');
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await fetch(server.url, { method, body: method === 'DELETE' ? undefined : 'x' });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      expect(await res.text()).not.toContain('# TYPE');
    }
  });
});

describe('registries', () => {
  it('are per instance: two never share a count, and building one never throws', async () => {
    const a = prometheusMetrics();
    const b = prometheusMetrics();
    a.metrics.storeError();
    a.metrics.storeError();
    const textA = parseExposition(await a.registry.metrics());
    const textB = parseExposition(await b.registry.metrics());
    expect(value(textA, 'tessera_store_errors_total')).toBe(2);
    expect(value(textB, 'tessera_store_errors_total')).toBe(0);
  });

  it('take a prefix for our series', async () => {
    const { metrics, registry } = prometheusMetrics({ prefix: 'auth_' });
    metrics.requestLimited();
    const parsed = parseExposition(await registry.metrics());
    expect(value(parsed, 'auth_rate_limited_total', { limit: 'request' })).toBe(1);
    expect(parsed.samples.some((s) => s.name.startsWith('tessera_'))).toBe(false);
  });
});

describe('the listener, failing and closing', () => {
  it('answers 500 and logs when collecting fails', async () => {
    const { registry } = prometheusMetrics();
    new Gauge({
      name: 'broken',
      help: 'a collector that throws',
      registers: [registry],
      collect() {
        throw new Error('collector broke');
      },
    });
    const warnings: unknown[] = [];
    const server = await startMetricsServer({
      registry,
      port: 0,
      host: '127.0.0.1',
      log: { warn: ((obj: unknown) => warnings.push(obj)) as never },
    });
    try {
      const res = await fetch(server.url);
      expect(res.status).toBe(500);
      expect(await res.text()).not.toContain('collector broke');
      expect(warnings).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('closes promptly with a scraper still connected (keep-alive), and stops answering', async () => {
    const { registry } = prometheusMetrics();
    const server = await startMetricsServer({ registry, port: 0, host: '127.0.0.1', log: silent });
    // fetch keeps the connection alive, as Prometheus does between scrapes.
    expect((await fetch(server.url)).status).toBe(200);
    const started = performance.now();
    await server.close();
    // Well under the 2 s after which close() would cut connections by force.
    expect(performance.now() - started).toBeLessThan(1_000);
    await expect(fetch(server.url)).rejects.toThrow();
    await server.close(); // a second close is harmless
  });

  it('fails to start on a port already taken, instead of serving nothing', async () => {
    const { registry } = prometheusMetrics();
    const first = await startMetricsServer({ registry, port: 0, host: '127.0.0.1', log: silent });
    try {
      const port = Number(new URL(first.url).port);
      await expect(startMetricsServer({ registry, port, host: '127.0.0.1', log: silent })).rejects.toThrow(
        /EADDRINUSE/,
      );
    } finally {
      await first.close();
    }
  });
});

describe('the public app', () => {
  let app: TestApp;
  beforeAll(async () => {
    // METRICS_PORT set: the public app still has no /metrics (it is never mounted there).
    app = await startApp({ env: { METRICS_PORT: '9464' } });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('never serves /metrics', async () => {
    expect(app.runtime.deps.config.metricsPort).toBe(9464);
    for (const path of ['/metrics', '/metrics/', '/trpc/metrics']) {
      for (const accept of ['*/*', 'text/plain', 'application/openmetrics-text']) {
        const res = await fetch(`${app.url}${path}`, { headers: { accept } });
        const text = await res.text();
        expect(res.status, `${path} (${accept})`).toBeGreaterThanOrEqual(400);
        expect(res.headers.get('content-type') ?? '').not.toContain('version=0.0.4');
        expect(text).not.toContain('# TYPE');
        expect(text).not.toContain('tessera_');
      }
    }
  });
});

describe('the server, composed with Prometheus metrics', () => {
  let app: TestApp;
  const { metrics, registry } = prometheusMetrics();
  beforeAll(async () => {
    app = await startApp({ env: { RATE_LIMIT_AUTH_PER_ACCOUNT: '2' }, compose: { metrics } });
  });
  afterAll(async () => {
    await app?.stop();
  });

  const value = async (name: string, labels = '') => {
    const text = await registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };

  it('counts what happens on real requests: sign-ins, sessions, lookups, limits, streams', async () => {
    const c = await app.signedIn('counted@example.com');
    await app.runtime.deps.audit.flush(); // sign-ins are counted as their audit events are recorded
    expect(await value('tessera_sign_ins_total', '{outcome="success"}')).toBe(1);
    expect(await value('tessera_sessions_created_total')).toBe(1);

    expect((await c.query('auth.me')).status).toBe(200);
    expect(await value('tessera_session_validate_duration_seconds_count', '{store="pglite"}')).toBe(1);

    const stranger = app.client();
    for (let i = 0; i < 3; i++) {
      await stranger.mutation('auth.login', { email: 'counted@example.com', password: 'wrong password!' });
    }
    await app.runtime.deps.audit.flush();
    expect(await value('tessera_sign_ins_total', '{outcome="password"}')).toBe(2);
    expect(await value('tessera_rate_limited_total', '{limit="credential_account"}')).toBe(1);

    expect((await c.mutation('auth.logout')).status).toBe(200);
    expect(await value('tessera_sessions_ended_total', '{reason="logged_out"}')).toBe(1);
  });
});
