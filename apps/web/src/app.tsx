import { QueryClientProvider } from '@tanstack/react-query';
import { Component, type ReactNode, useEffect } from 'react';
import { BrowserRouter, MemoryRouter } from 'react-router';
import { ErrorScreen } from './components/ErrorScreen';
import { gateFocusOnActivity } from './lib/focus';
import type { TabChannel } from './lib/tabs';
import { TRPCProvider } from './lib/trpc';
import { AppRoutes } from './routes';
import { createServices, type Services, ServicesContext } from './services';

export interface CreateServicesOptions {
  fetch?: typeof globalThis.fetch;
  channel?: TabChannel;
}

/** Everything one tab (or one test) holds. */
export const createAppServices = (options: CreateServicesOptions = {}): Services => createServices(options);

class ErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state = { error: null as unknown };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  override render() {
    return this.state.error ? <ErrorScreen error={this.state.error} /> : this.props.children;
  }
}

/**
 * The app. `initialPath` switches to an in-memory router (tests); the browser build uses the URL.
 */
export function App({ services, initialPath }: { services: Services; initialPath?: string }) {
  useEffect(() => gateFocusOnActivity(), []);
  const { queryClient, trpcClient } = services.clients;
  const routes = <AppRoutes />;
  return (
    <ErrorBoundary>
      <ServicesContext.Provider value={services}>
        <QueryClientProvider client={queryClient}>
          <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
            {initialPath ? (
              <MemoryRouter initialEntries={[initialPath]}>{routes}</MemoryRouter>
            ) : (
              <BrowserRouter>{routes}</BrowserRouter>
            )}
          </TRPCProvider>
        </QueryClientProvider>
      </ServicesContext.Provider>
    </ErrorBoundary>
  );
}
