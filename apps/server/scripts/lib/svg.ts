/**
 * A small, dependency-free SVG line chart: several panels stacked over one time axis, each with its
 * own y scale, gridlines and labels. Used by the soak run to plot its series for the docs.
 */
export interface Panel {
  title: string;
  unit: string;
  color: string;
  /** [seconds, value] points. */
  points: [number, number][];
}

export interface ChartOptions {
  title: string;
  subtitle?: string;
  panels: Panel[];
  /** Shade [from, to] seconds with a label (e.g. the cool-down after the traffic). */
  shade?: { from: number; to: number; label: string };
  width?: number;
  panelHeight?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A "nice" upper bound and tick step for a maximum value. */
function niceScale(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  return { top: step * Math.ceil(max / step), step };
}

const fmt = (v: number) =>
  v >= 1000 ? `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}k` : Number.isInteger(v) ? String(v) : v.toFixed(1);

export function lineChart(options: ChartOptions): string {
  const width = options.width ?? 900;
  const panelHeight = options.panelHeight ?? 150;
  const left = 70;
  const right = 20;
  const top = options.subtitle ? 84 : 60;
  const gap = 34;
  const plotWidth = width - left - right;
  const allX = options.panels.flatMap((p) => p.points.map(([x]) => x));
  const xMax = Math.max(1, ...allX, options.shade?.to ?? 0);
  const height = top + options.panels.length * (panelHeight + gap) + 24;
  const x = (s: number) => left + (s / xMax) * plotWidth;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${left}" y="24" font-size="16" font-weight="600" fill="#111">${esc(options.title)}</text>`,
  ];
  if (options.subtitle) out.push(`<text x="${left}" y="44" fill="#555">${esc(options.subtitle)}</text>`);
  options.panels.forEach((panel, i) => {
    const y0 = top + i * (panelHeight + gap);
    const { top: yTop, step } = niceScale(Math.max(0, ...panel.points.map(([, v]) => v)));
    const y = (v: number) => y0 + panelHeight - (v / yTop) * panelHeight;
    out.push(
      `<text x="${left}" y="${y0 - 8}" font-weight="600" fill="#222">${esc(panel.title)} (${esc(panel.unit)})</text>`,
    );
    if (options.shade) {
      out.push(
        `<rect x="${x(options.shade.from).toFixed(1)}" y="${y0}" width="${(x(options.shade.to) - x(options.shade.from)).toFixed(1)}" height="${panelHeight}" fill="#f1f3f5"/>`,
      );
      if (i === 0) {
        // Right-aligned against the shaded band (it may be narrow at the right edge).
        out.push(
          `<text x="${(x(options.shade.from) - 4).toFixed(1)}" y="${y0 + 14}" text-anchor="end" fill="#777">${esc(options.shade.label)} &#8594;</text>`,
        );
      }
    }
    for (let v = 0; v <= yTop + step / 2; v += step) {
      out.push(
        `<line x1="${left}" x2="${width - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e3e3e3"/>`,
        `<text x="${left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#666">${fmt(v)}</text>`,
      );
    }
    out.push(`<line x1="${left}" x2="${left}" y1="${y0}" y2="${y0 + panelHeight}" stroke="#999"/>`);
    if (panel.points.length > 0) {
      const path = panel.points.map(([s, v]) => `${x(s).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      out.push(`<polyline fill="none" stroke="${panel.color}" stroke-width="2" points="${path}"/>`);
    }
  });
  const axisY = top + options.panels.length * (panelHeight + gap) - gap + 16;
  const { step } = niceScale(xMax);
  for (let s = 0; s <= xMax + 1e-9; s += step) {
    out.push(`<text x="${x(s).toFixed(1)}" y="${axisY}" text-anchor="middle" fill="#666">${fmt(s)} s</text>`);
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
