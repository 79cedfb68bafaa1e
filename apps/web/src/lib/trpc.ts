/**
 * The tRPC client, typed end to end by the server's router (a type-only import: nothing from the
 * server is bundled). Queries and mutations go through `httpBatchLink` (plain fetch: the server's
 * Set-Cookie applies, which the streaming link can't guarantee); the one subscription
 * (`events.onSessionEnded`) goes through `httpSubscriptionLink` (server-sent events).
 * Both use relative URLs: same origin as the page (Vite's dev proxy, or the server itself in
 * production), so the session cookie is first-party and `SameSite` never gets in the way.
 */

import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';
import type { AppRouter } from '@tessera/server';
import {
  createTRPCClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  type TRPCClient,
  TRPCClientError,
} from '@trpc/client';
import { createTRPCContext, createTRPCOptionsProxy } from '@trpc/tanstack-react-query';

export type { AppRouter };
export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();
export type Trpc = ReturnType<typeof createTRPCOptionsProxy<AppRouter>>;

/** Where the API lives, relative to the page. */
export const API_URL = '/trpc';

/**
 * Calls per batched request: the server refuses a batch of more (413; MAX_BATCH_CALLS in
 * apps/server/src/http/batch-limit.ts, which a server test keeps this within).
 */
const MAX_BATCH_ITEMS = 10;

export interface ClientOptions {
  /** Every API request goes through this (the deadline tracker watches responses here). */
  fetch?: typeof globalThis.fetch;
  /** Called for every failed query or mutation (the session controller listens). */
  onError?: (error: unknown) => void;
}

export interface Clients {
  queryClient: QueryClient;
  trpcClient: TRPCClient<AppRouter>;
  /** Query/mutation options factory, for code outside components (route guards). */
  trpc: Trpc;
}

/** A 4xx is an answer, not a glitch: retrying it can't help (and would touch the session again). */
function retryOnce(failures: number, error: unknown): boolean {
  const status =
    error instanceof TRPCClientError ? (error.data as { httpStatus?: number } | undefined)?.httpStatus : 0;
  return failures < 1 && (status === undefined || status === 0 || status >= 500);
}

export function createQueryClient(onError?: (error: unknown) => void): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({ onError: (error) => onError?.(error) }),
    mutationCache: new MutationCache({ onError: (error) => onError?.(error) }),
    defaultOptions: {
      queries: {
        staleTime: 30_000,
        retry: retryOnce,
        // Focus only counts once the person actually interacts with the page (lib/focus.ts): a tab
        // that merely regains focus must not touch an idle session.
        refetchOnWindowFocus: true,
        // Coming back online is not user activity either.
        refetchOnReconnect: false,
      },
      mutations: { retry: false },
    },
  });
}

export function createClients(options: ClientOptions = {}): Clients {
  const queryClient = createQueryClient(options.onError);
  const trpcClient = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({ url: API_URL }),
        false: httpBatchLink({
          url: API_URL,
          // Bound the URL of batched GETs well below common proxy limits.
          maxURLLength: 2000,
          maxItems: MAX_BATCH_ITEMS,
          ...(options.fetch ? { fetch: options.fetch } : {}),
        }),
      }),
    ],
  });
  const trpc = createTRPCOptionsProxy<AppRouter>({ client: trpcClient, queryClient });
  return { queryClient, trpcClient, trpc };
}
