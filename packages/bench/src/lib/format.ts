import type { Summary } from './stats.js';

/** 12345.6 -> '12,346'; small numbers keep `digits` decimals. */
export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Decimals that suit the magnitude: 3 significant-ish digits for small values, none for large ones. */
export function autoDigits(value: number): number {
  const a = Math.abs(value);
  if (a >= 100) return 0;
  if (a >= 10) return 1;
  return 2;
}

/** 'median (min-max)' */
export function spread(s: Summary, digits = autoDigits(s.median), unit = ''): string {
  if (!Number.isFinite(s.median)) return 'n/a';
  if (s.samples.length <= 1 || s.min === s.max) return `${num(s.median, digits)}${unit}`;
  return `${num(s.median, digits)}${unit} (${num(s.min, digits)}-${num(s.max, digits)})`;
}

export function ratioText(s: Summary): string {
  return spread(s, 2, 'x');
}

export function bytes(n: number): string {
  return `${num(n)} B`;
}
