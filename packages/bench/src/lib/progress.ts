/**
 * Progress lines on stderr (the table goes to stdout): one line when a phase starts, one per step,
 * so a long run never sits silent. `quiet` turns them off for tests.
 */
const started = performance.now();
let quiet = false;

export function setQuiet(value: boolean): void {
  quiet = value;
}

const stamp = () => `[${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s]`;

/** A phase header: `[  12.3s] == 4. validate() at 50 in flight`. */
export function phase(title: string): void {
  if (!quiet) process.stderr.write(`${stamp()} == ${title}\n`);
}

/** A step inside a phase. */
export function step(message: string): void {
  if (!quiet) process.stderr.write(`${stamp()}    ${message}\n`);
}

export function elapsedSeconds(): number {
  return (performance.now() - started) / 1000;
}
