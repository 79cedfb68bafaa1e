/** What a run produces: table rows (what is printed) and the measurements behind them (the JSON). */
import type { Summary } from './stats.js';

export interface Row {
  /** The target number, with a letter for a second view of the same target ('1', '1b'). */
  id: string;
  target: string;
  tessera: string;
  peer: string;
  ratio: string;
  goal: string;
  /** null: reported, not judged (or not measurable here). */
  pass: boolean | null;
  /** One line on what the figure means or what limited it. */
  note?: string;
}

/** A named measurement: a median with its spread, in a unit. */
export interface Metric {
  unit: string;
  summary: Summary;
}

export type Metrics = Record<string, Metric>;

/** A bar pair for the chart: Tessera beside the peer (or baseline). */
export interface ChartPanel {
  title: string;
  unit: string;
  better: 'higher' | 'lower';
  bars: { label: string; who: 'tessera' | 'peer' | 'baseline'; summary: Summary }[];
}

export interface PhaseResult {
  rows: Row[];
  metrics: Metrics;
  panels: ChartPanel[];
  /** Free-form extra facts (counts, sizes, loop delays) for the JSON file. */
  facts?: Record<string, unknown>;
}

export const emptyPhase = (): PhaseResult => ({ rows: [], metrics: {}, panels: [] });

export function merge(into: PhaseResult, from: PhaseResult): void {
  into.rows.push(...from.rows);
  Object.assign(into.metrics, from.metrics);
  into.panels.push(...from.panels);
  if (from.facts) into.facts = { ...into.facts, ...from.facts };
}
