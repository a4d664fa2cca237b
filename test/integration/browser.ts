/**
 * Headless Chromium for the dashboard tests: Debian's `chromium` package driven
 * by playwright-core (no browser download: playwright-core ships none, and the
 * tests never fetch one). A fresh temporary profile per launch, no network
 * features that would call out (sync, component updates, QUIC), so the only
 * traffic is to the gateway on 127.0.0.1.
 *
 * A missing browser fails the test with how to install it; it never skips.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { ROOT } from './helpers.js';

export const CHROMIUM_PATH = process.env['CE_CHROMIUM'] ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where screenshots go (gitignored): test-artifacts/<suite>/. */
export function artifactsDir(suite: string): string {
  const dir = join(ROOT, 'test-artifacts', suite);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface Browser {
  context: BrowserContext;
  /** A new tab that records console errors and failed requests (asserted by the tests). */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  /** Console errors, page errors and CSP violations seen on any page. */
  errors: string[];
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} is missing: the dashboard browser tests need Debian's chromium ` +
        '(apt-get install chromium; test/peers/ensure-peers.sh installs it). No browser is downloaded.',
    );
  }
  const profile = mkdtempSync(join(tmpdir(), 'ce-chromium-'));
  let context: BrowserContext;
  try {
    // launchPersistentContext is how playwright takes a user-data-dir of our own.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      locale: 'vi-VN',
      timezoneId: 'Asia/Ho_Chi_Minh',
      viewport: { width: 1366, height: 900 },
      // Debian's wrapper script (/usr/bin/chromium) may print a warning: not an error.
      timeout: 60_000,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (m: ConsoleMessage) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  };
  for (const p of context.pages()) watch(p);
  return {
    context,
    errors,
    async newPage(viewport) {
      const page = await context.newPage();
      watch(page);
      if (viewport) await page.setViewportSize(viewport);
      return page;
    },
    async close() {
      try {
        await context.close();
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}
