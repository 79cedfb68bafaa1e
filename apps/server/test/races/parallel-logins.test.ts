/**
 * 1,000 parallel logins of ONE user, split across two server processes that share a private Redis
 * (and a PostgreSQL database for users), under both limit policies. While they run, a monitor
 * snapshots the user's records in Redis atomically every few milliseconds. Then:
 *  - never more than N live sessions at any snapshot, and none indexed without a live record or live
 *    without being indexed;
 *  - no 5xx; evict-oldest: every login 200; reject: exactly N 200s, the rest 409 with a ticket;
 *  - at the end the API's session list == the sessions whose cookies work == Redis's live set.
 */
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueEmail } from '../helpers/app.js';
import { type ChildServer, startChildServer, userAdmin } from '../helpers/child-server.js';
import { PASSWORD } from '../helpers/defaults.js';
import type { HttpClient } from '../helpers/http.js';
import { histogram, percentile } from '../helpers/load.js';
import { userSessionState } from '../helpers/redis-inspect.js';

const LOGINS = Number(process.env.PARALLEL_LOGINS ?? 1_000);
const N = 3;

let db: TestDatabase;
let redis: TestRedis;
let direct: Redis;
let admin: ReturnType<typeof userAdmin>;
beforeAll(async () => {
  [db, redis] = await Promise.all([createTestDatabase(), startRedis()]);
  direct = new Redis(redis.url);
});
afterAll(async () => {
  direct?.disconnect();
  await admin?.close();
  await redis?.stop();
  await db?.drop();
});

describe.each(['evict-oldest', 'reject'] as const)(
  `${LOGINS} parallel logins of one user on two instances, %s`,
  (policy) => {
    let a: ChildServer;
    let b: ChildServer;
    beforeAll(async () => {
      const env = {
        DATABASE_URL: db.url,
        REDIS_URL: redis.url,
        SESSION_LIMIT_POLICY: policy,
        SESSION_MAX_PER_USER: String(N),
      };
      [a, b] = await Promise.all([startChildServer({ env }), startChildServer({ env })]);
      admin ??= userAdmin(db.url);
    }, 60_000);
    afterAll(async () => {
      await Promise.all([a?.kill(), b?.kill()]);
    });

    it(`never more than ${N} live sessions; list == live set; no 5xx`, async () => {
      const email = uniqueEmail(`crowd-${policy}`);
      const user = await admin.create(email);

      // The monitor: atomic snapshots of the user's records while the logins run.
      let monitoring = true;
      let snapshots = 0;
      let maxLive = 0;
      const inconsistent: string[] = [];
      const monitor = (async () => {
        while (monitoring) {
          const s = await userSessionState(direct, user.id);
          snapshots++;
          maxLive = Math.max(maxLive, s.live.length);
          if (s.indexed.join() !== s.live.join()) inconsistent.push(`indexed ${s.indexed} live ${s.live}`);
          await new Promise((r) => setTimeout(r, 2));
        }
      })();

      const clients: HttpClient[] = Array.from({ length: LOGINS }, (_, i) => (i % 2 ? b : a).client());
      const started = performance.now();
      const results = await Promise.all(
        clients.map(async (c) => {
          const t0 = performance.now();
          const r = await c.mutation('auth.login', { email, password: PASSWORD });
          return { r, ms: performance.now() - t0 };
        }),
      );
      const elapsed = performance.now() - started;
      monitoring = false;
      await monitor;

      const statuses = histogram(results.map(({ r }) => ({ status: r.status }) as never));
      const latencies = results.map((x) => x.ms);
      console.log(
        `${policy}: ${LOGINS} logins in ${elapsed.toFixed(0)} ms (${((LOGINS / elapsed) * 1000).toFixed(0)}/s), ` +
          `statuses ${JSON.stringify(statuses)}, p50 ${percentile(latencies, 50).toFixed(0)} ms, ` +
          `p99 ${percentile(latencies, 99).toFixed(0)} ms; ${snapshots} snapshots, max live ${maxLive}`,
      );
      expect(results.filter(({ r }) => r.status >= 500)).toEqual([]);
      if (policy === 'evict-oldest') {
        expect(statuses).toEqual({ 200: LOGINS });
      } else {
        expect(statuses).toEqual({ 200: N, 409: LOGINS - N });
        for (const { r } of results.filter((x) => x.r.status === 409)) {
          expect(r.error?.data.sessionLimit.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
          expect(r.setCookies.filter((h) => /^__Host-tessera=[^;]/.test(h))).toEqual([]);
        }
      }
      expect(snapshots).toBeGreaterThan(5);
      expect(maxLive).toBeLessThanOrEqual(N);
      expect(inconsistent).toEqual([]);

      // At the end: list (API) == working cookies == Redis live set == index.
      const working = (
        await Promise.all(
          clients.map(async (c) =>
            c.sessionToken && (await c.mutation('auth.ping')).status === 200 ? c : null,
          ),
        )
      ).filter((c): c is HttpClient => c !== null);
      expect(working).toHaveLength(N);
      const listed = ((await working[0]!.query('sessions.list')).data as { id: string }[])
        .map((s) => s.id)
        .sort();
      const state = await userSessionState(direct, user.id);
      expect(listed).toEqual(working.map((c) => c.sessionToken!.slice(0, 26)).sort());
      expect(listed).toEqual(state.live);
      expect(state.indexed).toEqual(state.live);
    }, 120_000);
  },
);
