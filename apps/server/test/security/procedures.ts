import { appRouter } from '../../src/trpc/routers/index.js';

export type ProcedureType = 'query' | 'mutation' | 'subscription';

/** Every procedure of the API with its type, read from the router itself (nothing to keep in sync). */
export function procedures(): { path: string; type: ProcedureType }[] {
  const record = (
    appRouter as unknown as { _def: { procedures: Record<string, { _def: { type: ProcedureType } }> } }
  )._def.procedures;
  return Object.entries(record)
    .map(([path, p]) => ({ path, type: p._def.type }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

export const mutations = () =>
  procedures()
    .filter((p) => p.type === 'mutation')
    .map((p) => p.path);
export const queries = () =>
  procedures()
    .filter((p) => p.type === 'query')
    .map((p) => p.path);
