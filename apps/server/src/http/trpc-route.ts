/**
 * The /trpc route, which owns each API request end to end: it builds the request tRPC reads, hands
 * the context factory what it may read of the request and a fresh `ResponseState`, and writes that
 * state (Set-Cookie, Retry-After) onto the reply: the one place cookies are written.
 *
 * Each request goes to tRPC's own `resolveResponse` (the public building block of every tRPC
 * adapter, `@trpc/server/http`), which does all of tRPC's HTTP work: batching, procedure lookup,
 * method checks, input parsing, error shapes and status codes, SSE subscriptions. Why not
 * `fastifyTRPCPlugin`: it first turns Node's request into a Fetch-API `Request` (undici `Headers`
 * built from every header, an AbortController and two listeners, WebIDL conversions) and replies by
 * piping a web stream, a cost per call docs/PERFORMANCE.md measures. The request handed to tRPC here
 * is `FastifyFetchRequest`: the few members `resolveResponse` reads, over what Fastify already
 * parsed. test/conformance.test.ts runs one corpus through this route and through tRPC's adapter, so
 * a tRPC upgrade that reads something else fails there. A JSON reply (queries, mutations, batches) is
 * read whole and sent as bytes (sent as a string, it would get Fastify's `; charset=utf-8` added to
 * tRPC's content type); anything else (an SSE stream) goes to Fastify as the stream it is.
 *
 * tRPC's Response headers are copied onto the reply except the hop-by-hop ones (RFC 9110 7.6.1;
 * RFC 9112 6.1): they describe one connection, and Node frames and keeps alive this one itself. A
 * copied `Transfer-Encoding: chunked` over a body Fastify sends with a Content-Length gave one
 * response two framings (RFC 9112 6.3: a proxy reading the other one desynchronises), and a copied
 * `Connection: keep-alive` contradicted a client's `Connection: close`.
 */
import { serializeCookie } from '@tessera/session-core';
import type { AnyTRPCRouter, TRPCError } from '@trpc/server';
import { resolveResponse } from '@trpc/server/http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { newResponseState, type RequestInput } from '../trpc/context.js';

export interface TrpcRouteOptions<TRouter extends AnyTRPCRouter, TContext> {
  router: TRouter;
  /** Once per request; what it queues in `response` is written to the reply when tRPC is done. */
  createContext: (request: RequestInput) => Promise<TContext>;
  onError?: (failure: { error: TRPCError; path: string | undefined; type: string }) => void;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const isHopByHop = (name: string) => HOP_BY_HOP.has(name) || name.startsWith('proxy-');

/** Node's header record read through the two methods of `Headers` that tRPC calls. */
class NodeHeaders {
  constructor(private readonly raw: FastifyRequest['headers']) {}
  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }
  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }
}

/**
 * What `resolveResponse` reads of a request: method, url, headers.get/has, the JSON body and an
 * abort signal (read on every call), which aborts when the client goes away before the reply is
 * complete (what ends an SSE subscription), as tRPC's node-http adapter does. Which members tRPC
 * reads is checked by test/conformance.test.ts against tRPC's own Fastify adapter.
 */
class FastifyFetchRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: NodeHeaders;
  readonly signal: AbortSignal;

  constructor(
    private readonly req: FastifyRequest,
    reply: FastifyReply,
  ) {
    this.method = req.method;
    // Only path and query matter to tRPC; the host is a placeholder so that `new URL()` parses.
    this.url = `http://localhost${req.url}`;
    this.headers = new NodeHeaders(req.headers);
    const abort = new AbortController();
    const raw = reply.raw;
    raw.once('close', () => {
      if (!raw.writableEnded) abort.abort();
    });
    this.signal = abort.signal;
  }

  /** The body as the JSON content-type parser below left it: a string (or nothing). */
  async json(): Promise<unknown> {
    const body = this.req.body;
    if (body === undefined || body === null || body === '') {
      throw new SyntaxError('Unexpected end of JSON input');
    }
    return typeof body === 'string' ? JSON.parse(body) : body;
  }
}

/** Registers `ALL <prefix>/:path` on `scope`; call it inside the scope that owns the /trpc hooks. */
export function registerTrpcRoute<TRouter extends AnyTRPCRouter, TContext>(
  scope: FastifyInstance,
  opts: TrpcRouteOptions<TRouter, TContext>,
): void {
  // tRPC parses the JSON itself (and reports bad JSON as its own BAD_REQUEST): keep the text.
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    done(null, body);
  });

  scope.all<{ Params: { path: string } }>('/:path', async (req, reply) => {
    const state = newResponseState();
    const response = await resolveResponse<TRouter>({
      router: opts.router,
      // A structural stand-in for the Fetch `Request` (see FastifyFetchRequest).
      req: new FastifyFetchRequest(req, reply) as unknown as Request,
      path: req.params.path,
      error: null,
      createContext: () =>
        opts.createContext({
          cookieHeader: req.headers.cookie,
          userAgent: req.headers['user-agent'],
          ip: req.ip ?? null,
          response: state,
        }) as never,
      onError: opts.onError ? ({ error, path, type }) => opts.onError?.({ error, path, type }) : undefined,
    });
    reply.code(response.status);
    for (const [name, value] of response.headers) if (!isHopByHop(name)) reply.header(name, value);
    // What the context and the procedures queued; for a stream (SSE) this is known before it starts.
    if (state.cookies.size > 0) reply.header('set-cookie', [...state.cookies.values()].map(serializeCookie));
    for (const [name, value] of state.headers) reply.header(name, value);
    if (response.headers.get('content-type') === 'application/json') {
      return reply.send(Buffer.from(await response.arrayBuffer()));
    }
    // The stream, not the Response: Fastify would copy the Response's headers again, after onSend.
    return reply.send(response.body ?? '');
  });
}
