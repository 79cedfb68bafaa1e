import { describe, expect, it } from 'vitest';
import { spread } from '../src/lib/format.js';
import type { ChartPanel, Row } from '../src/lib/results.js';
import { summarize } from '../src/lib/stats.js';
import { chartSvg } from '../src/report/svg.js';
import { markdownTable, textTable, wrap } from '../src/report/table.js';

const rows: Row[] = [
  {
    id: '1',
    target: 'Session overhead',
    tessera: '12.0 us',
    peer: '85.0 us',
    ratio: 'peer 7.1x',
    goal: '<= 15 us',
    pass: true,
  },
  {
    id: '2',
    target: 'auth.me | req/s',
    tessera: '1,000/s',
    peer: '2,000/s',
    ratio: '0.50x',
    goal: '>= 1.5x',
    pass: false,
    note: 'a note',
  },
  { id: 'ref', target: 'reference', tessera: '', peer: '', ratio: '', goal: 'reference', pass: null },
];

describe('formatting', () => {
  it('prints a median with its range', () => {
    expect(spread(summarize([1200, 1000, 1500]), 0, '/s')).toBe('1,200/s (1,000-1,500)');
    expect(spread(summarize([3]), 1, ' us')).toBe('3.0 us');
    expect(spread(summarize([]))).toBe('n/a');
  });

  it('wraps words into the width and cuts words that are longer', () => {
    expect(wrap('one two three', 7)).toEqual(['one two', 'three']);
    expect(wrap('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
    expect(wrap('', 5)).toEqual(['']);
  });
});

describe('tables', () => {
  it('prints every row with its verdict and the notes below', () => {
    const text = textTable(rows);
    expect(text).toContain('PASS');
    expect(text).toContain('FAIL');
    expect(text).toMatch(/\[2\] a note/);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(200);
  });

  it('escapes pipes in Markdown cells', () => {
    const md = markdownTable(rows);
    expect(md).toContain('auth.me \\| req/s');
    expect(md.split('\n')[0]).toBe('| # | target | Tessera | peer / baseline | ratio | goal | result |');
  });
});

describe('chart', () => {
  const panels: ChartPanel[] = [
    {
      title: 'Requests <per> second',
      unit: 'req/s',
      better: 'higher',
      bars: [
        { label: 'Tessera', who: 'tessera', summary: summarize([900, 1000, 1100]) },
        { label: 'peer', who: 'peer', summary: summarize([500]) },
        { label: 'missing', who: 'baseline', summary: summarize([]) },
      ],
    },
  ];

  it('draws one bar per value, a whisker where there is a range, and escapes text', () => {
    const svg = chartSvg(panels, 'subtitle & more');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Requests &lt;per&gt; second');
    expect(svg).toContain('subtitle &amp; more');
    expect(svg.match(/class="w"/g)).toHaveLength(1);
    expect(svg).toContain('1,000 req/s');
    expect(svg).toContain('n/a');
    expect(svg).not.toContain('NaN');
  });
});
