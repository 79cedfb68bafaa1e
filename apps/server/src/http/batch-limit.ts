/**
 * How many procedure calls one /trpc request may carry. tRPC runs the calls of a batch side by side
 * under one context, so without a bound one request from one address could queue hundreds of
 * password checks or store calls ahead of everyone else's requests, well under any per-request
 * limit. The SPA batches a handful of queries (its httpBatchLink sets `maxItems` to this value or
 * less: apps/web/src/lib/trpc.ts); a request with more calls is refused at the edge (413) before
 * its context is created, and the per-IP request limit counts every call of a batch.
 * (OWASP API Security Top 10 2023, API4: Unrestricted Resource Consumption.)
 */
export const MAX_BATCH_CALLS = 10;

/** The calls a /trpc path parameter names: tRPC joins the procedure paths of a batch with commas. */
export function callsIn(path: string | undefined): number {
  let calls = 1;
  if (!path) return calls;
  for (let i = path.indexOf(','); i !== -1; i = path.indexOf(',', i + 1)) calls++;
  return calls;
}

/**
 * The longest /trpc path parameter a bounded batch of these procedures needs: Fastify's
 * `maxParamLength`, so the router itself refuses anything longer (414) before a hook runs.
 */
export function batchPathLength(procedurePaths: Iterable<string>): number {
  let longest = 0;
  for (const path of procedurePaths) longest = Math.max(longest, path.length);
  return MAX_BATCH_CALLS * (longest + 1) - 1;
}
