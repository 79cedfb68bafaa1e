import { fileURLToPath } from 'node:url';

/** The repository root (this file is packages/bench/{src,dist}/lib/paths.*). */
export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
export const benchRoot = fileURLToPath(new URL('../../', import.meta.url));
export const inRepo = (path: string) => `${repoRoot}${path}`;
