/**
 * Initialising a PGlite data directory (initdb) costs ~3 s of CPU; opening an existing one ~0.2 s.
 * So the run initialises one template here and every embedded-store test copies it
 * (helpers/app.ts), which keeps the suite fast on two cores.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A DATA_DIR whose `pglite/` holds a freshly initialised, empty database. */
    pgliteTemplate: string;
  }
}

let dir: string | null = null;

export async function setup(project: TestProject) {
  dir = mkdtempSync(join(tmpdir(), 'tessera-pglite-template-'));
  const db = await PGlite.create(join(dir, 'pglite'));
  await db.close();
  project.provide('pgliteTemplate', dir);
}

export async function teardown() {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
