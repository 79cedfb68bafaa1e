#!/usr/bin/env node
// Reports the initial JavaScript of the sign-in page, gzipped: every script dist/index.html loads or
// preloads (the entry and its static imports). Lazy chunks (signed-in screens, QR code) don't count.
// Fails above the budget (110 KB by default; SIZE_BUDGET_KB overrides).
//   node scripts/size.mjs [distDir]
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const dist = resolve(process.argv[2] ?? fileURLToPath(new URL('../dist', import.meta.url)));
const budgetKb = Number(process.env.SIZE_BUDGET_KB ?? 110);
let html;
try {
  html = readFileSync(join(dist, 'index.html'), 'utf8');
} catch {
  console.error(`No ${join(dist, 'index.html')}: run the build first (pnpm --filter @tessera/web build).`);
  process.exit(2);
}

const attr = (tag, name) => new RegExp(`${name}="([^"]+)"`).exec(tag)?.[1];
const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => attr(m[0], 'src')).filter(Boolean);
const preloads = [...html.matchAll(/<link\b[^>]*rel="modulepreload"[^>]*>/g)].map((m) => attr(m[0], 'href'));
const styles = [...html.matchAll(/<link\b[^>]*rel="stylesheet"[^>]*>/g)].map((m) => attr(m[0], 'href'));

const measure = (files) =>
  [...new Set(files)].map((file) => {
    const bytes = readFileSync(join(dist, file.replace(/^\//, '')));
    return { file, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const js = measure([...scripts, ...preloads]);
const css = measure(styles);
const total = js.reduce((sum, f) => sum + f.gzip, 0);

console.log('Initial JS of the sign-in page (gzip):');
for (const f of js)
  console.log(`  ${f.file.padEnd(44)} ${kb(f.raw).padStart(9)} raw  ${kb(f.gzip).padStart(8)} gzip`);
for (const f of css)
  console.log(
    `  ${f.file.padEnd(44)} ${kb(f.raw).padStart(9)} raw  ${kb(f.gzip).padStart(8)} gzip (CSS, not counted)`,
  );
console.log(`  total JS: ${kb(total)} gzip (budget ${budgetKb} KB)`);
if (total > budgetKb * 1024) {
  console.error(`Initial JS is over budget by ${kb(total - budgetKb * 1024)}.`);
  process.exit(1);
}
