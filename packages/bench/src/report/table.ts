/** The results table: aligned text for the terminal (cells wrap), and Markdown for docs. */
import type { Row } from '../lib/results.js';

const verdict = (pass: boolean | null) => (pass === null ? '-' : pass ? 'PASS' : 'FAIL');

const COLUMNS: { title: string; width: number; cell: (r: Row) => string }[] = [
  { title: '#', width: 3, cell: (r) => r.id },
  { title: 'target', width: 40, cell: (r) => r.target },
  { title: 'Tessera', width: 42, cell: (r) => r.tessera },
  { title: 'peer / baseline', width: 42, cell: (r) => r.peer },
  { title: 'ratio', width: 26, cell: (r) => r.ratio },
  { title: 'goal', width: 16, cell: (r) => r.goal },
  { title: 'result', width: 6, cell: (r) => verdict(r.pass) },
];

/** Greedy word wrap; words longer than the width are cut. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
    while (line.length > width) {
      lines.push(line.slice(0, width));
      line = line.slice(width);
    }
  }
  if (line !== '' || lines.length === 0) lines.push(line);
  return lines;
}

export function textTable(rows: Row[]): string {
  const widths = COLUMNS.map((c) =>
    Math.min(c.width, Math.max(c.title.length, ...rows.map((r) => c.cell(r).length))),
  );
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-');
  const out: string[] = [COLUMNS.map((c, i) => c.title.padEnd(widths[i]!)).join(' | '), rule];
  for (const row of rows) {
    const cells = COLUMNS.map((c, i) => wrap(c.cell(row), widths[i]!));
    const height = Math.max(...cells.map((c) => c.length));
    for (let l = 0; l < height; l++) {
      out.push(
        cells
          .map((c, i) => (c[l] ?? '').padEnd(widths[i]!))
          .join(' | ')
          .trimEnd(),
      );
    }
  }
  const notes = rows.filter((r) => r.note).map((r) => `  [${r.id}] ${r.note}`);
  if (notes.length) out.push('', 'Notes:', ...notes);
  return out.join('\n');
}

const md = (text: string) => text.replace(/\|/g, '\\|');

export function markdownTable(rows: Row[]): string {
  const out = [
    '| # | target | Tessera | peer / baseline | ratio | goal | result |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    out.push(
      `| ${[r.id, r.target, r.tessera, r.peer, r.ratio, r.goal, verdict(r.pass)].map(md).join(' | ')} |`,
    );
  }
  const notes = rows.filter((r) => r.note).map((r) => `- [${r.id}] ${md(r.note!)}`);
  if (notes.length) out.push('', ...notes);
  return out.join('\n');
}
