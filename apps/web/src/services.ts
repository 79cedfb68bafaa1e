/**
 * Everything the app holds for one browser tab, wired once (main.tsx) or per test: the API clients,
 * the session controller, the deadline tracker and the in-memory sign-in steps.
 */
import { createContext, useContext } from 'react';
import { DeadlineTracker, trackingFetch } from './lib/deadlines';
import { SessionController } from './lib/session';
import { SignInFlow } from './lib/sign-in-flow';
import { openTabChannel, type TabChannel } from './lib/tabs';
import { type Clients, createClients } from './lib/trpc';

export interface Services {
  clients: Clients;
  session: SessionController;
  tracker: DeadlineTracker;
  flow: SignInFlow;
}

export interface ServicesOptions {
  /** The network (tests pass a fake server). Default: window.fetch. */
  fetch?: typeof globalThis.fetch;
  /** Default: a BroadcastChannel. */
  channel?: TabChannel;
}

export function createServices(options: ServicesOptions = {}): Services {
  const tracker = new DeadlineTracker();
  const base: typeof globalThis.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  let session: SessionController | null = null;
  const clients = createClients({
    fetch: trackingFetch(tracker, base),
    onError: (error) => session?.handleError(error),
  });
  session = new SessionController({
    queryClient: clients.queryClient,
    trpc: clients.trpc,
    tracker,
    channel: options.channel ?? openTabChannel(),
  });
  return { clients, session, tracker, flow: new SignInFlow() };
}

export const ServicesContext = createContext<Services | null>(null);

export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error('useServices outside <App>');
  return services;
}
