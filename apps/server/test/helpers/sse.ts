import type { HttpClient } from './http.js';

/**
 * Opens the events.onSessionEnded stream (what httpSubscriptionLink's EventSource does) and returns
 * once the server has confirmed the subscription; `next()` resolves with the first data event.
 */
export async function subscribeSessionEnded(c: HttpClient) {
  const abort = new AbortController();
  const res = await c.fetch('/trpc/events.onSessionEnded', {
    signal: abort.signal,
    headers: { accept: 'text/event-stream' },
  });
  if (res.status !== 200 || !res.body)
    throw new Error(`subscription refused: ${res.status} ${await res.text()}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let pending: ReturnType<typeof reader.read> | null = null;
  const read = async (until: (text: string) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!until(buffer)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms; got: ${buffer}`);
      // Keep one read in flight across iterations so no chunk is ever dropped.
      pending ??= reader.read();
      const chunk = await Promise.race([
        pending,
        new Promise<null>((r) => setTimeout(() => r(null), Math.min(left, 100))),
      ]);
      if (chunk === null) continue;
      pending = null;
      if (chunk.done) throw new Error(`stream ended; got: ${buffer}`);
      buffer += decoder.decode(chunk.value, { stream: true });
    }
    return buffer;
  };
  await read((t) => t.includes('event: connected'), 5_000);
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    /** The first `data:` payload after the connected event, parsed. */
    async next(timeoutMs = 5_000): Promise<{ sessionId: string; reason: string; at: number }> {
      const text = await read(
        (t) => /\ndata: \{"sessionId"/.test(t) || /^data: \{"sessionId"/m.test(t),
        timeoutMs,
      );
      const line = text.split('\n').find((l) => l.startsWith('data: {"sessionId"'))!;
      return JSON.parse(line.slice('data: '.length));
    },
    close() {
      abort.abort();
    },
  };
}
