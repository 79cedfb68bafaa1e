/**
 * Entry point (`pnpm start` from the repository root, or `node dist/main.js`): validate the
 * environment, compose, listen, print where sessions live and how to sign in, stop cleanly on
 * SIGINT/SIGTERM.
 */

import { isBindableOrigin } from '@tessera/session-core';
import { compose, type Runtime } from './compose.js';
import { formatDuration } from './durations.js';
import { type Config, EnvError, loadEnv } from './env.js';
import { type MetricsServer, startMetricsServer } from './http/metrics-server.js';
import { createServer } from './http/server.js';
import { DataDirLockedError } from './infra/data-dir-lock.js';
import { prometheusMetrics } from './metrics/prometheus.js';

const print = (lines: string[]) => process.stdout.write(`${lines.join('\n')}\n`);

function banner(url: string, runtime: Runtime, metricsUrl: string | null): string[] {
  const { storeLabel } = runtime;
  const { config } = runtime.deps;
  const lines = [
    '',
    `Tessera is listening on ${url} (NODE_ENV=${config.nodeEnv})`,
    `  users:    ${runtime.databaseLabel}`,
    `  sessions: ${storeLabel}`,
    `  cookie:   ${runtime.deps.sessions.cookieName}${config.cookieSecure ? ' (Secure)' : ' (not Secure: development only)'}`,
    ...(metricsUrl ? [`  metrics:  ${metricsUrl} (Prometheus; keep it off the public network)`] : []),
    `  idle ${formatDuration(config.session.idleTimeoutMs)}, absolute ${formatDuration(config.session.absoluteTimeoutMs)}, ` +
      `max ${config.session.maxPerUser} per user (${config.session.limitPolicy})`,
    `  DBSC:     ${deviceBindingLine(config)}`,
    '',
  ];
  if (runtime.demo) {
    lines.push(
      'Demo accounts were created (shown this once; change their passwords or remove the data dir):',
    );
    const width = Math.max(...runtime.demo.map((a) => a.email.length));
    for (const a of runtime.demo)
      lines.push(`  ${a.role.padEnd(5)}  ${a.email.padEnd(width)}  password: ${a.password}`);
  } else {
    lines.push('Sign in with an existing account, or create one:');
    lines.push(
      "  pnpm cli users create --email you@example.com --password 'a long passphrase' [--role admin]",
    );
  }
  lines.push(
    config.webDistDir
      ? `Open ${config.appOrigin} to sign in.`
      : `Sign in through the API: POST ${config.appOrigin}/trpc/auth.login {"email","password"} (Origin: ${config.appOrigin})`,
    '',
  );
  return lines;
}

/** Device binding as the banner says it: on with its lifetimes, or off and why. */
function deviceBindingLine(config: Config): string {
  const binding = config.deviceBinding;
  if (binding) {
    return `on (device-bound sessions; bound cookie ${formatDuration(binding.boundCookieTtlMs)}, challenge ${formatDuration(binding.challengeTtlMs)})`;
  }
  return isBindableOrigin(config.appOrigin)
    ? 'off (DBSC=off)'
    : 'off (APP_ORIGIN is neither https:// nor http:// on localhost: browsers would not bind)';
}

async function main(): Promise<void> {
  let config: ReturnType<typeof loadEnv>;
  try {
    config = loadEnv();
  } catch (error) {
    if (error instanceof EnvError) {
      process.stderr.write(`${error.message}\nSee apps/server/.env.example.\n`);
      process.exit(1);
    }
    throw error;
  }

  const prometheus = config.metricsPort === null ? null : prometheusMetrics();
  let runtime: Runtime;
  try {
    runtime = await compose(config, prometheus ? { metrics: prometheus.metrics } : {});
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  const server = createServer(runtime);
  let metricsServer: MetricsServer | null = null;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    runtime.deps.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await server.stop().catch(() => {});
    await metricsServer?.close().catch(() => {});
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  try {
    const url = await server.start();
    if (prometheus && config.metricsPort !== null) {
      try {
        metricsServer = await startMetricsServer({
          registry: prometheus.registry,
          port: config.metricsPort,
          host: config.metricsHost,
          log: runtime.deps.log,
        });
      } catch (error) {
        process.stderr.write(
          `Could not listen for metrics on ${config.metricsHost}:${config.metricsPort}: ${(error as Error).message}\n`,
        );
        await server.stop().catch(() => {});
        await runtime.close();
        process.exit(1);
      }
    }
    print(banner(url, runtime, metricsServer?.url ?? null));
  } catch (error) {
    process.stderr.write(`Could not listen on ${config.host}:${config.port}: ${(error as Error).message}\n`);
    await runtime.close();
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Tessera failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
