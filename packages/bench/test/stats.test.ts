import { describe, expect, it } from 'vitest';
import { differenceOf, median, ratioOf, rotation, summarize } from '../src/lib/stats.js';

describe('stats', () => {
  it('takes the median of odd and even counts, ignoring order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('summarizes with min and max and keeps the samples in measured order', () => {
    expect(summarize([5, 1, 9])).toEqual({ median: 5, min: 1, max: 9, samples: [5, 1, 9] });
  });

  it('leaves non-finite samples out of the figures but keeps them in samples', () => {
    const s = summarize([1, Number.NaN, 3]);
    expect(s.median).toBe(2);
    expect(s.samples).toHaveLength(3);
  });

  it('pairs rounds for ratios and differences', () => {
    const a = summarize([10, 20, 30]);
    const b = summarize([5, 10, 10]);
    expect(ratioOf(a, b).samples).toEqual([2, 2, 3]);
    expect(ratioOf(a, b).median).toBe(2);
    expect(differenceOf(a, b).samples).toEqual([5, 10, 20]);
  });

  it('rotates the order each round so nothing always runs first', () => {
    expect(rotation(['a', 'b', 'c'], 0)).toEqual(['a', 'b', 'c']);
    expect(rotation(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a']);
    expect(rotation(['a', 'b', 'c'], 4)).toEqual(['b', 'c', 'a']);
    expect(rotation([], 3)).toEqual([]);
  });
});
