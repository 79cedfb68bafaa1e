/**
 * End-to-end harness: the real built server (apps/server/dist/main.js, production mode, embedded
 * store in a temporary DATA_DIR) serving the real built SPA (apps/web/dist), driven by Debian's
 * Chromium through playwright-core.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));
export const WEB_DIR = resolve(here, '..');
export const SERVER_DIR = resolve(WEB_DIR, '../server');
export const SCREENSHOTS = join(WEB_DIR, 'screenshots');
export const PASSWORD = 'correct horse battery staple';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Devices the contexts pretend to be, so the session list shows different browsers and icons. */
export const DEVICES = {
  laptop: {
    userAgent:
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36',
    viewport: { width: 1280, height: 800 },
  },
  phone: {
    userAgent:
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1',
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  },
  mac: {
    userAgent:
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15',
    viewport: { width: 1280, height: 800 },
  },
  linux: {
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0',
    viewport: { width: 1280, height: 800 },
  },
} as const;
export type DeviceName = keyof typeof DEVICES;

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

export interface TestUser {
  email: string;
  password?: string;
  role?: 'admin' | 'user';
}

export interface RunningServer {
  url: string;
  /** The same server by its IP, for Node's fetch ("localhost" may resolve to ::1 first). */
  direct: string;
  env: Record<string, string>;
  output: () => string;
  stop(): Promise<void>;
}

/**
 * Creates the users with the server's CLI (the embedded database is single-process, so before the
 * server starts), then starts the server and waits for /healthz.
 */
export async function startServer(options: {
  users: TestUser[];
  env?: Record<string, string>;
  /**
   * The name the pages use (APP_ORIGIN); the server listens on 127.0.0.1 either way. `localhost`: an
   * origin where browsers may bind sessions to a device key (DBSC wants https, or http on localhost).
   */
  host?: '127.0.0.1' | 'localhost';
}): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-e2e-'));
  const port = await freePort();
  const direct = `http://127.0.0.1:${port}`;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
    APP_ORIGIN: url,
    DATA_DIR: join(dataDir, 'data'),
    COOKIE_SECURE: 'false',
    WEB_DIST_DIR: join(WEB_DIR, 'dist'),
    RATE_LIMIT_AUTH_PER_IP: '100000',
    RATE_LIMIT_REQUESTS_PER_MINUTE: '100000',
    ...options.env,
  };
  for (const user of options.users) {
    await run(
      process.execPath,
      [
        join(SERVER_DIR, 'dist/cli.js'),
        'users',
        'create',
        '--email',
        user.email,
        '--password',
        user.password ?? PASSWORD,
        ...(user.role ? ['--role', user.role] : []),
      ],
      { env, cwd: dataDir },
    );
  }
  let log = '';
  const child: ChildProcess = spawn(process.execPath, [join(SERVER_DIR, 'dist/main.js')], {
    env,
    cwd: dataDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${log}`);
    try {
      const res = await fetch(`${direct}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not answer /healthz within 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return {
    url,
    direct,
    env,
    output: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A browser context is one device: its own cookie jar. */
export async function device(browser: Browser, baseURL: string, name: DeviceName = 'laptop'): Promise<Page> {
  const context: BrowserContext = await browser.newContext({
    ...DEVICES[name],
    baseURL,
    locale: 'en-GB',
    timezoneId: 'Europe/Paris',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return page;
}

export async function signIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto('/sign-in');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export async function signedInAs(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'Where you’re signed in' }).waitFor();
}

/** The re-authentication dialog appears when the session isn't fresh: answer it if it does. */
export async function confirmPasswordIfAsked(
  page: Page,
  password = PASSWORD,
  timeout = 3_000,
): Promise<boolean> {
  const dialog = page.getByRole('dialog', { name: 'Confirm it’s you' });
  try {
    await dialog.waitFor({ timeout });
  } catch {
    return false;
  }
  await dialog.getByLabel('Password').fill(password);
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await dialog.waitFor({ state: 'hidden' });
  return true;
}

/** Saves `<name>-desktop.png` and `<name>-phone.png` (1280x800 and 390x844). */
export async function screenshots(
  page: Page,
  name: string,
  options: { fullPage?: boolean } = {},
): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const original = page.viewportSize();
  for (const [suffix, size] of [
    ['desktop', { width: 1280, height: 800 }],
    ['phone', { width: 390, height: 844 }],
  ] as const) {
    await page.setViewportSize(size);
    await page.waitForTimeout(150);
    await page.screenshot({
      path: join(SCREENSHOTS, `${name}-${suffix}.png`),
      fullPage: options.fullPage ?? true,
      animations: 'disabled',
      caret: 'hide',
    });
  }
  if (original) await page.setViewportSize(original);
}
