/** Median with the spread it came from: what every figure in the table is. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** Every sample, in the order measured. */
  samples: number[];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarize(samples: readonly number[]): Summary {
  const finite = samples.filter(Number.isFinite);
  return {
    median: median(finite),
    min: finite.length ? Math.min(...finite) : Number.NaN,
    max: finite.length ? Math.max(...finite) : Number.NaN,
    samples: [...samples],
  };
}

/**
 * Per-round ratios a[i] / b[i], summarized. Rounds are interleaved (A then B, close in time), so the
 * ratio of one round is the fairest single comparison; the median of those ratios is what we report.
 */
export function ratioOf(a: Summary, b: Summary): Summary {
  const n = Math.min(a.samples.length, b.samples.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(a.samples[i]! / b.samples[i]!);
  return summarize(ratios);
}

/** Per-round differences a[i] - b[i], summarized. */
export function differenceOf(a: Summary, b: Summary): Summary {
  const n = Math.min(a.samples.length, b.samples.length);
  const diffs: number[] = [];
  for (let i = 0; i < n; i++) diffs.push(a.samples[i]! - b.samples[i]!);
  return summarize(diffs);
}

/** Order of the scenarios in round `round`: rotated each round so no scenario always runs first. */
export function rotation<T>(items: readonly T[], round: number): T[] {
  if (items.length === 0) return [];
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
