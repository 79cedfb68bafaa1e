import { describe, expect, it } from 'vitest';
import { freePort, processCpuMicros } from '../src/lib/processes.js';

describe('process helpers', () => {
  it('reads a process CPU time from /proc and it never goes backwards', () => {
    const before = processCpuMicros(process.pid);
    let x = 0;
    for (let i = 0; i < 2e6; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    const after = processCpuMicros(process.pid);
    expect(before).toBeGreaterThan(0);
    expect(after).toBeGreaterThanOrEqual(before);
  });

  it('finds a free port', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65536);
  });
});
