/**
 * The chart, written by hand: one small panel per comparison (units differ), horizontal bars for the
 * medians with a whisker for min-max over rounds, Tessera in blue, the peer in orange, baselines grey.
 */
import type { ChartPanel } from '../lib/results.js';

const COLORS = { tessera: '#2563eb', peer: '#ea580c', baseline: '#9ca3af' } as const;
const WIDTH = 760;
const LABEL = 190;
const VALUE = 150;
const BAR_H = 18;
const GAP = 10;

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function fmt(value: number, unit: string): string {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${unit}`;
}

export function chartSvg(panels: ChartPanel[], subtitle: string): string {
  const parts: string[] = [];
  let y = 96;
  const plot = WIDTH - LABEL - VALUE - 20;
  for (const panel of panels) {
    parts.push(
      `<text x="20" y="${y}" class="t">${esc(panel.title)}</text>` +
        `<text x="${WIDTH - 20}" y="${y}" class="s" text-anchor="end">${panel.better} is better</text>`,
    );
    y += 12;
    const finite = panel.bars.filter((b) => Number.isFinite(b.summary.median));
    const top = Math.max(
      1e-9,
      ...finite.map((b) => (Number.isFinite(b.summary.max) ? b.summary.max : b.summary.median)),
    );
    for (const bar of panel.bars) {
      const s = bar.summary;
      const w = Number.isFinite(s.median) ? Math.max(1, (Math.max(0, s.median) / top) * plot) : 0;
      const by = y + 4;
      parts.push(
        `<text x="${LABEL + 10}" y="${by + BAR_H - 5}" class="l" text-anchor="end">${esc(bar.label)}</text>` +
          `<rect x="${LABEL + 20}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" rx="2" fill="${COLORS[bar.who]}"/>`,
      );
      if (Number.isFinite(s.min) && Number.isFinite(s.max) && s.max > s.min) {
        const x1 = LABEL + 20 + (Math.max(0, s.min) / top) * plot;
        const x2 = LABEL + 20 + (s.max / top) * plot;
        const cy = by + BAR_H / 2;
        parts.push(
          `<path d="M${x1.toFixed(1)} ${cy}H${x2.toFixed(1)}M${x1.toFixed(1)} ${cy - 4}v8M${x2.toFixed(1)} ${cy - 4}v8" class="w"/>`,
        );
      }
      parts.push(
        `<text x="${WIDTH - 20}" y="${by + BAR_H - 5}" class="v" text-anchor="end">${esc(Number.isFinite(s.median) ? fmt(s.median, panel.unit) : 'n/a')}</text>`,
      );
      y += BAR_H + 8;
    }
    y += GAP + 16;
  }
  const height = y;
  const legend = (['tessera', 'peer', 'baseline'] as const)
    .map((who, i) => {
      const x = 20 + i * 210;
      const name =
        who === 'tessera' ? 'Tessera' : who === 'peer' ? 'express-session + connect-redis' : 'baseline';
      return `<rect x="${x}" y="54" width="12" height="12" rx="2" fill="${COLORS[who]}"/><text x="${x + 18}" y="64" class="s">${name}</text>`;
    })
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="Tessera beside express-session: benchmark medians">`,
    '<style>text{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;fill:#111827}.h{font-size:16px;font-weight:600}.t{font-size:13px;font-weight:600}.s{font-size:11px;fill:#4b5563}.l{font-size:12px}.v{font-size:12px;font-variant-numeric:tabular-nums}.w{stroke:#111827;stroke-width:1.2;fill:none}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="20" y="24" class="h">Tessera beside express-session</text>`,
    `<text x="20" y="42" class="s">${esc(subtitle)}</text>`,
    legend,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
