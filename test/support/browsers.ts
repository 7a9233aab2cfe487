import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, firefox, type BrowserContext, type Page } from 'playwright-core';
import { server } from 'playwright-core/lib/coreBundle';

/**
 * The browsers the console's tests drive: Debian's packages, through playwright-core (which
 * cannot download browsers of its own here). `npm run infra:up` installs both; a missing one
 * fails the test that asked for it, here and under CI alike.
 */
export const BROWSERS = {
  chromium: { path: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', apt: 'chromium' },
  // Stock Firefox, driven over WebDriver BiDi (playwright's `moz-` channels), not Playwright's patched build.
  firefox: { path: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr', apt: 'firefox-esr' },
} as const;
export type BrowserName = keyof typeof BROWSERS;

export interface OpenBrowser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

const viewport = { width: 1400, height: 900 };

/** One headless browser with one page, in a profile of its own that `close` removes. */
export async function openBrowser(name: BrowserName): Promise<OpenBrowser> {
  const { path, apt } = BROWSERS[name];
  if (!existsSync(path)) throw new Error(`no ${name} at ${path}: npm run infra:up installs Debian's ${apt} package`);
  if (name === 'chromium') {
    const profile = mkdtempSync(join(tmpdir(), 'console-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: path,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      viewport,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    return { context, page, close: () => context.close().finally(() => rmSync(profile, { recursive: true, force: true })) };
  }
  answerMissingMediaOverride();
  const browser = await firefox.launch({ channel: 'moz-firefox', executablePath: path, headless: true });
  const context = await browser.newContext({ viewport });
  return { context, page: await context.newPage(), close: () => browser.close() };
}

const MEDIA_OVERRIDE = 'emulation.setMediaFeaturesOverride';
let shimmed = false;

/**
 * playwright-core 1.65 resets `prefers-color-scheme` with `emulation.setMediaFeaturesOverride`
 * on every new context; Firefox ESR 153's WebDriver BiDi does not have that command yet and
 * answers "unknown command", which fails `newContext`. Where Firefox answers so to that
 * command (and only there), the answer becomes a success: no scheme is emulated, the page
 * renders with the browser's default, which is what these tests want. A Firefox that knows
 * the command is untouched. It patches playwright's WebSocket transport (the only way in to
 * a BiDi session it launched), so a playwright-core that no longer exports it fails here.
 */
function answerMissingMediaOverride(): void {
  if (shimmed) return;
  const proto = server?.WebSocketTransport?.prototype as Transport | undefined;
  if (!proto || typeof proto.send !== 'function')
    throw new Error('playwright-core no longer exports server.WebSocketTransport: revisit test/support/browsers.ts');
  const send = proto.send;
  const asked = new WeakMap<Transport, Set<number>>();
  proto.send = function (this: Transport, message) {
    if (message.method === MEDIA_OVERRIDE) {
      if (!asked.has(this)) asked.set(this, new Set());
      asked.get(this)!.add(message.id);
    }
    send.call(this, message);
  };
  const handlers = new WeakMap<Transport, Transport['onmessage']>();
  Object.defineProperty(proto, 'onmessage', {
    configurable: true,
    get(this: Transport) {
      return handlers.get(this);
    },
    set(this: Transport, handler: Transport['onmessage']) {
      handlers.set(
        this,
        handler &&
          ((message) => {
            const unknown = message.type === 'error' && message.error === 'unknown command' && asked.get(this)?.delete(message.id);
            handler(unknown ? { type: 'success', id: message.id, result: {} } : message);
          }),
      );
    },
  });
  shimmed = true;
}

interface BidiMessage {
  id: number;
  type?: string;
  method?: string;
  error?: string;
  result?: unknown;
}
interface Transport {
  send(message: BidiMessage): void;
  onmessage?: (message: BidiMessage) => void;
}
