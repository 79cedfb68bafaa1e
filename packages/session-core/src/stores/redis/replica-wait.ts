/**
 * Redis `WAIT` after the writes that must survive a failover (the `waitForReplicas` option of
 * ./index.ts): those that end a session or replace its token.
 *
 * Why: Redis replicates asynchronously. A master acknowledges a write before any replica holds it, so
 * a revoke acknowledged just before the master dies can be missing on the replica promoted in its
 * place, and the revoked session then works again. WAIT blocks until `replicas` replicas acknowledged
 * every write made so far ON ITS OWN CONNECTION, or `timeoutMs` passed, and returns how many did
 * (https://redis.io/docs/latest/commands/wait/).
 *
 * How: the script and WAIT go out as one pipeline, so WAIT runs on the connection that ran the script,
 * right after it. On a Redis Cluster, ioredis sends a pipeline to the node owning its keys' slot and the
 * keyless WAIT goes along; a lone `cluster.wait()` would go to a random node and count nothing of ours.
 * A pipeline is not redirected when the slot moved (a failover in progress): the write then fails,
 * closed, and the caller retries.
 *
 * WAIT narrows the window, it does not close it: a replica that acknowledged can still lose the race to
 * be promoted (Redis promotes the most up-to-date replica it can reach) and a write that times out is
 * on the master all the same, so a shortfall is reported as a failure, never as done.
 */
import type { Cluster, Redis } from 'ioredis';
import { SessionConfigError } from '../../errors.js';

export interface ReplicaWait {
  /** Replicas that must hold the write; 0 turns waiting off. */
  replicas: number;
  /** How long to wait for them, in ms (WAIT 0 would block forever, so at least 1). */
  timeoutMs: number;
}

type Arg = string | number;
type PipelineReply = [Error | null, unknown][] | null;

/** Validates the option; null when waiting is off. */
export function replicaWaitOption(value: ReplicaWait | undefined): ReplicaWait | null {
  if (value === undefined) return null;
  const { replicas, timeoutMs } = value ?? {};
  if (!Number.isInteger(replicas) || replicas < 0 || !Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new SessionConfigError(
      'redisStore: waitForReplicas must be { replicas: an integer >= 0, timeoutMs: an integer >= 1 }',
    );
  }
  return replicas === 0 ? null : { replicas, timeoutMs };
}

/** An acknowledged write that fewer replicas than asked hold: it may not survive a failover. */
export class ReplicaShortfall extends Error {
  constructor(acked: number, wait: ReplicaWait) {
    super(
      `WAIT: ${acked} of ${wait.replicas} replica(s) acknowledged within ${wait.timeoutMs} ms; ` +
        'the change is on the master and may not survive a failover',
    );
    this.name = 'ReplicaShortfall';
  }
}

/**
 * Runs a script (EVALSHA, EVAL when the node lacks it) followed by WAIT on the same connection. Throws
 * the script's error, or ReplicaShortfall when the script changed something (`changed(reply)`) and
 * fewer than `wait.replicas` replicas acknowledged it.
 */
export async function evalAndWait(
  client: Redis | Cluster,
  script: { sha: string; source: string },
  numKeys: number,
  args: Arg[],
  wait: ReplicaWait,
  changed: (reply: unknown) => boolean,
): Promise<unknown> {
  const exec = (withSource: boolean): Promise<PipelineReply> => {
    const pipeline = client.pipeline();
    if (withSource) pipeline.eval(script.source, numKeys, ...args);
    else pipeline.evalsha(script.sha, numKeys, ...args);
    return pipeline.wait(wait.replicas, wait.timeoutMs).exec();
  };
  let replies = await exec(false);
  if (replies?.[0]?.[0]?.message.startsWith('NOSCRIPT')) replies = await exec(true);
  const [ran, waited] = replies ?? [];
  if (!ran || !waited) throw new Error('the script and WAIT pipeline returned no reply');
  if (ran[0]) {
    // A lone command follows MOVED by itself; a pipeline doesn't: refresh the slot map for the retry.
    if (/^(MOVED|ASK) /.test(ran[0].message)) (client as Partial<Cluster>).refreshSlotsCache?.();
    throw ran[0];
  }
  if (waited[0]) throw waited[0];
  const acked = Number(waited[1]);
  if (acked < wait.replicas && changed(ran[1])) throw new ReplicaShortfall(acked, wait);
  return ran[1];
}
