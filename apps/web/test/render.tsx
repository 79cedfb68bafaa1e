import { render } from '@testing-library/react';
import { App, createAppServices } from '../src/app';
import type { TabChannel, TabMessage } from '../src/lib/tabs';
import { type FakeApi, fakeApi, type Handler } from './fake-api';

/** A BroadcastChannel stand-in: records what this tab posted; `deliver` plays another tab. */
export function fakeChannel() {
  const posted: TabMessage[] = [];
  const listeners = new Set<(m: TabMessage) => void>();
  const channel: TabChannel = {
    post: (m) => posted.push(m),
    listen: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close: () => listeners.clear(),
  };
  return {
    channel,
    posted,
    deliver: (m: TabMessage) => {
      for (const listener of listeners) listener(m);
    },
  };
}

export function renderApp(path: string, handlers: Record<string, Handler>) {
  const api: FakeApi = fakeApi(handlers);
  const tabs = fakeChannel();
  const services = createAppServices({ fetch: api.fetch, channel: tabs.channel });
  const view = render(<App services={services} initialPath={path} />);
  return { ...view, api, tabs, services };
}
