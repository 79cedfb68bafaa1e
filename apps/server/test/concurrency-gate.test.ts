import { describe, expect, it } from 'vitest';
import { concurrencyGate } from '../src/users/concurrency-gate.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('concurrencyGate', () => {
  it('runs at most `limit` tasks at once, the rest in arrival order, and frees slots on failure', async () => {
    const gate = concurrencyGate(2);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const task = (n: number, fail = false) =>
      gate.run(async () => {
        started.push(n);
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => releases.push(r));
        running--;
        if (fail) throw new Error(`task ${n} failed`);
        return n;
      });
    const results = [task(1, true), task(2), task(3), task(4), task(5)].map((p) =>
      p.then(
        (v) => v,
        (e: Error) => e.message,
      ),
    );
    await tick();
    expect(started).toEqual([1, 2]);
    expect([gate.active, gate.waiting]).toEqual([2, 3]);
    for (let i = 0; i < 5; i++) {
      releases.shift()?.();
      await tick();
      await tick();
    }
    expect(await Promise.all(results)).toEqual(['task 1 failed', 2, 3, 4, 5]);
    expect(started).toEqual([1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
    expect([gate.active, gate.waiting]).toEqual([0, 0]);
  });

  it('refuses a limit below 1', () => {
    expect(() => concurrencyGate(0)).toThrow(RangeError);
  });
});
