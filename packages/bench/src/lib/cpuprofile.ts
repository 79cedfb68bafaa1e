/**
 * Reading a V8 .cpuprofile (what `node --cpu-prof` writes): self time per function, time per
 * package, and inclusive time of chosen frames (a frame's own time plus everything it called,
 * counted once even when it recurses). Pure functions over the parsed JSON.
 */

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Frame {
  name: string;
  url: string;
  line: number;
}

/** A short location: `@trpc/server/.../resolveResponse.mjs:12`, `apps/server/dist/trpc/context.js:40`, `node:internal/...`. */
export function shortUrl(url: string): string {
  if (url === '') return '';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm !== -1) return path.slice(nm + '/node_modules/'.length);
  const repo = /\/(apps|packages)\/(.*)$/.exec(path);
  if (repo) return `${repo[1]}/${repo[2]}`;
  return path;
}

/** The package or area a frame belongs to, for the per-area breakdown. */
export function areaOf(frame: Frame): string {
  const { name, url } = frame;
  if (url === '') {
    if (name === '(garbage collector)') return 'GC';
    if (name === '(idle)') return 'idle';
    if (name === '(program)') return 'V8/native (program)';
    if (name === '(root)') return 'root';
    return 'native';
  }
  const short = shortUrl(url);
  if (short.startsWith('node:internal/deps/undici')) return 'undici (Fetch API Request/Response)';
  if (short.startsWith('node:')) return `node:${short.split('/')[1] ?? 'core'}`;
  if (short.startsWith('apps/server/')) return 'apps/server';
  if (short.startsWith('packages/session-core/')) return 'session-core';
  const m = /^(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(short);
  return m ? m[1]! : short;
}

export interface ProfileSummary {
  /** Microseconds of samples in the window, idle excluded. */
  busyUs: number;
  selfByFunction: { frame: Frame; us: number }[];
  byArea: { area: string; us: number }[];
  inclusive: (match: (frame: Frame) => boolean) => number;
}

/**
 * Summarizes the samples taken between `from` and `to` (profile clock, microseconds; omit for all).
 */
export function summarizeProfile(
  profile: CpuProfile,
  window: { from?: number; to?: number } = {},
): ProfileSummary {
  const byId = new Map<number, CpuProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if ((window.from !== undefined && t < window.from) || (window.to !== undefined && t > window.to))
      continue;
    // A sample's time is the gap to the next one (the delta stored with the next sample).
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const frameOf = (n: CpuProfileNode): Frame => ({
    name: n.callFrame.functionName || '(anonymous)',
    url: n.callFrame.url,
    line: n.callFrame.lineNumber + 1,
  });

  const selfKey = new Map<string, { frame: Frame; us: number }>();
  const area = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const frame = frameOf(byId.get(id)!);
    if (frame.name === '(idle)') continue;
    busy += us;
    const key = `${frame.name}@${frame.url}:${frame.line}`;
    const entry = selfKey.get(key) ?? { frame, us: 0 };
    entry.us += us;
    selfKey.set(key, entry);
    const a = areaOf(frame);
    area.set(a, (area.get(a) ?? 0) + us);
  }

  // Inclusive time per node: its self time plus its subtree's.
  const total = new Map<number, number>();
  const totalOf = (id: number): number => {
    const cached = total.get(id);
    if (cached !== undefined) return cached;
    // Iterative post-order: deep async stacks would overflow a recursive walk.
    const stack: [number, boolean][] = [[id, false]];
    while (stack.length) {
      const [cur, done] = stack.pop()!;
      if (done) {
        let sum = self.get(cur) ?? 0;
        for (const c of byId.get(cur)?.children ?? []) sum += total.get(c) ?? 0;
        total.set(cur, sum);
      } else if (!total.has(cur)) {
        stack.push([cur, true]);
        for (const c of byId.get(cur)?.children ?? []) if (!total.has(c)) stack.push([c, false]);
      }
    }
    return total.get(id)!;
  };

  return {
    busyUs: busy,
    selfByFunction: [...selfKey.values()].sort((a, b) => b.us - a.us),
    byArea: [...area.entries()].map(([a, us]) => ({ area: a, us })).sort((x, y) => y.us - x.us),
    inclusive(match) {
      let sum = 0;
      for (const n of profile.nodes) {
        if (!match(frameOf(n))) continue;
        // Count only the outermost matching frame of each stack.
        let p = parent.get(n.id);
        let nested = false;
        while (p !== undefined) {
          if (match(frameOf(byId.get(p)!))) {
            nested = true;
            break;
          }
          p = parent.get(p);
        }
        if (!nested) sum += totalOf(n.id);
      }
      return sum;
    },
  };
}
