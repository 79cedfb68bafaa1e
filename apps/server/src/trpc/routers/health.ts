import { publicProcedure, router } from '../procedures.js';

export const healthRouter = router({
  /**
   * The trivial public query: no session needed, no I/O. For probes that want the whole API path
   * (edge guard, request limit, context, tRPC) rather than /healthz, and the baseline of the bench's
   * "authenticated vs public call" target (packages/bench).
   */
  check: publicProcedure.query(() => ({ status: 'ok' as const })),
});
