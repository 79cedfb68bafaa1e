import { describe, expect, it } from 'vitest';
import { areaOf, type CpuProfile, shortUrl, summarizeProfile } from '../src/lib/cpuprofile.js';

const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({
  id,
  callFrame: { functionName, url, lineNumber: 0 },
  children,
});

// root -> handler -> recurse -> recurse (recursion) ; root -> (garbage collector) ; root -> (idle)
const profile: CpuProfile = {
  nodes: [
    frame(1, '(root)', '', [2, 5, 6]),
    frame(2, 'handler', 'file:///repo/apps/server/dist/context.js', [3]),
    frame(
      3,
      'recurse',
      'file:///repo/node_modules/.pnpm/ioredis@5/node_modules/ioredis/built/Command.js',
      [4],
    ),
    frame(4, 'recurse', 'file:///repo/node_modules/.pnpm/ioredis@5/node_modules/ioredis/built/Command.js'),
    frame(5, '(garbage collector)', ''),
    frame(6, '(idle)', ''),
  ],
  startTime: 0,
  endTime: 100,
  // Each sample's time is the next delta: 2 -> 10, 3 -> 10, 4 -> 10, 5 -> 10, 6 -> 50, last -> 0.
  samples: [2, 3, 4, 5, 6, 2],
  timeDeltas: [0, 10, 10, 10, 10, 50],
};

describe('cpu profile summary', () => {
  it('shortens locations to package or repository paths', () => {
    expect(shortUrl('file:///x/node_modules/.pnpm/a@1/node_modules/@trpc/server/dist/x.mjs')).toBe(
      '@trpc/server/dist/x.mjs',
    );
    expect(shortUrl('file:///work/main/apps/server/dist/context.js')).toBe('apps/server/dist/context.js');
    expect(shortUrl('node:internal/abort_controller')).toBe('node:internal/abort_controller');
  });

  it('sorts frames into areas', () => {
    expect(
      areaOf({
        name: 'x',
        url: 'file:///x/node_modules/.pnpm/@trpc+server@11/node_modules/@trpc/server/a.mjs',
        line: 1,
      }),
    ).toBe('@trpc/server');
    expect(areaOf({ name: 'x', url: 'node:internal/deps/undici/undici', line: 1 })).toBe(
      'undici (Fetch API Request/Response)',
    );
    expect(areaOf({ name: '(garbage collector)', url: '', line: 0 })).toBe('GC');
  });

  it('adds self time per function, leaves idle out, and counts recursion once inclusively', () => {
    const s = summarizeProfile(profile);
    expect(s.busyUs).toBe(40);
    expect(s.selfByFunction[0]!.frame.name).toBe('recurse');
    expect(s.selfByFunction[0]!.us).toBe(20);
    expect(s.byArea.find((a) => a.area === 'ioredis')?.us).toBe(20);
    expect(s.inclusive((f) => f.name === 'recurse')).toBe(20);
    expect(s.inclusive((f) => f.name === 'handler')).toBe(30);
  });

  it('counts only samples inside the window', () => {
    const s = summarizeProfile(profile, { from: 15, to: 35 });
    // The samples taken at t=20 (ioredis) and t=30 (GC), 10 us each.
    expect(s.busyUs).toBe(20);
  });
});
