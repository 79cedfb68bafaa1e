/**
 * Target 5: does validate() cost the same with 1,000,000 sessions in Redis as with 1,000? Two private
 * redis-servers side by side, validated in interleaved rounds (the fair A/B: one Redis can't hold
 * both sizes at once). Each holds the same 1,000 hot sessions made by the store's create(). The
 * large one is then filled up to N sessions by COPYing a template session and its user index (also
 * made by create(), with a 110-character user agent, an IPv4 and a role) to fresh keys named as the
 * store names them: byte-for-byte the store's own records and TTLs, at ~1 s per 200k sessions
 * instead of ~70 s through create(). The copies' indexes list the template's session id; only the
 * hot sessions are validated.
 */
import { randomBytes } from 'node:crypto';
import { redisKeys, redisStore } from '@tessera/session-core/redis';
import type { Redis } from 'ioredis';
import type { BenchOptions } from '../lib/args.js';
import { num, ratioText } from '../lib/format.js';
import { step } from '../lib/progress.js';
import { benchClient, infoNumber, startRedis } from '../lib/redis.js';
import type { PhaseResult } from '../lib/results.js';
import {
  createHotSessions,
  IPV4,
  managerOn,
  ROLE_DATA,
  readyClient,
  TAG_SECRET,
  USER_AGENT,
  validateOp,
} from '../lib/sessions.js';
import { ratioOf } from '../lib/stats.js';
import { interleave, opsText } from './validate.js';

const PREFIX = 'tessera:';

const COPY_BATCH = `local ts, ti = ARGV[1], ARGV[2]
for n = 3, #ARGV, 2 do
  redis.call('COPY', ts, ARGV[n])
  redis.call('COPY', ti, ARGV[n + 1])
end
return (#ARGV - 2) / 2`;

/** Copies the template session + index to `count` new (session, index) key pairs. */
export async function fillByCopy(
  client: Redis,
  count: number,
  onProgress?: (done: number) => void,
): Promise<void> {
  const sessions = managerOn(redisStore({ client, prefix: PREFIX, tagSecret: TAG_SECRET }));
  const templateUser = 'template-user-000000';
  const template = await sessions.create({
    userId: templateUser,
    data: { ...ROLE_DATA },
    userAgent: USER_AGENT,
    ip: IPV4,
  });
  const keys = redisKeys({ prefix: PREFIX, tagSecret: TAG_SECRET });
  const templateSession = keys.session(template.session.id);
  const templateIndex = keys.userIndex(templateUser);
  const sha = (await client.script('LOAD', COPY_BATCH)) as string;
  const batch = 5_000;
  const run = randomBytes(2).toString('hex');
  let done = 0;
  let lastReport = 0;
  // A few batches in flight: Node builds the next names while Redis copies.
  const inFlight = new Set<Promise<void>>();
  for (let from = 0; from < count; from += batch) {
    const args: string[] = [templateSession, templateIndex];
    for (let i = from; i < Math.min(count, from + batch); i++) {
      // As long as the template's user id (20 characters), so key sizes match too.
      const userId = `filler-${run}-${String(i).padStart(8, '0')}`;
      const id = keys.tag(userId) + randomBytes(16).toString('base64url');
      args.push(keys.session(id), keys.userIndex(userId));
    }
    const call: Promise<void> = client.evalsha(sha, 0, ...args).then((n) => {
      inFlight.delete(call);
      done += Number(n);
      if (onProgress && done - lastReport >= 200_000) {
        lastReport = done;
        onProgress(done);
      }
    });
    inFlight.add(call);
    if (inFlight.size >= 4) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

export async function runFlatTarget(options: BenchOptions): Promise<PhaseResult> {
  const small = await startRedis('redis-small');
  const big = await startRedis('redis-big');
  const smallClient = await readyClient(small.url);
  const bigClient = await readyClient(big.url);
  // The fill sends 5,000-session scripts: no 1 s command timeout for this one.
  const filler = benchClient(big.url);
  try {
    const smallSessions = managerOn(
      redisStore({ client: smallClient, prefix: PREFIX, tagSecret: TAG_SECRET }),
    );
    const bigSessions = managerOn(redisStore({ client: bigClient, prefix: PREFIX, tagSecret: TAG_SECRET }));
    const smallTokens = await createHotSessions(smallSessions, options.hotSessions);
    const bigTokens = await createHotSessions(bigSessions, options.hotSessions);
    const extra = Math.max(0, options.bigSessions - options.hotSessions - 1);
    const t0 = performance.now();
    step(`filling the large Redis to ${num(options.bigSessions)} sessions (copies of a real one)`);
    await fillByCopy(filler, extra, (done) => step(`  ${num(done + options.hotSessions + 1)} sessions`));
    const dbsize = await bigClient.dbsize();
    const usedMemory = await infoNumber(bigClient, 'memory', 'used_memory');
    step(
      `large Redis: ${num(dbsize)} keys, ${num(usedMemory / 1024 / 1024)} MiB used, filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const stats = await interleave(
      [
        {
          key: `${num(options.hotSessions)} sessions`,
          op: validateOp(smallSessions, smallTokens),
          pids: [small.pid],
        },
        {
          key: `${num(options.bigSessions)} sessions`,
          op: validateOp(bigSessions, bigTokens),
          pids: [big.pid],
        },
      ],
      options,
      [],
    );
    const s = stats[`${num(options.hotSessions)} sessions`]!;
    const b = stats[`${num(options.bigSessions)} sessions`]!;
    const ratio = ratioOf(b.opsPerSec, s.opsPerSec);
    return {
      rows: [
        {
          id: '5',
          target: `validate() with ${num(options.bigSessions)} sessions in Redis vs ${num(options.hotSessions)}`,
          tessera: opsText(b),
          peer: `${opsText(s)} at ${num(options.hotSessions)}`,
          ratio: ratioText(ratio),
          goal: '>= 0.9x',
          pass: ratio.median >= 0.9,
          ...(options.bigSessions < 1_000_000
            ? { note: `quick run: ${num(options.bigSessions)} sessions, not 1,000,000` }
            : {}),
        },
      ],
      metrics: {
        'target5.small.opsPerSec': { unit: 'ops/s', summary: s.opsPerSec },
        'target5.big.opsPerSec': { unit: 'ops/s', summary: b.opsPerSec },
        'target5.small.redisCpuUs': { unit: 'us/op', summary: s.serverCpuUs },
        'target5.big.redisCpuUs': { unit: 'us/op', summary: b.serverCpuUs },
        'target5.ratio': { unit: 'x', summary: ratio },
      },
      panels: [],
      facts: { target5: { keys: dbsize, usedMemory, sessions: options.bigSessions } },
    };
  } finally {
    smallClient.disconnect();
    bigClient.disconnect();
    filler.disconnect();
    await Promise.all([small.stop(), big.stop()]);
  }
}
