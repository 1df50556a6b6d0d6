import playwright, { type Browser, type Page } from "playwright-core";

/**
 * The browsers the dashboard's end-to-end test and benchmark drive, both Debian's packages:
 * Chromium through playwright-core with `executablePath`, and Firefox ESR through
 * playwright-core's WebDriver BiDi driver (`_bidiFirefox`: Firefox's own remote protocol, so
 * no patched Playwright build is needed). `.ci/run` and `npm test` install them when missing.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const FIREFOX = process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr";

/** Without the background-networking flags Chromium keeps trying the closed network of this machine. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface OpenedPage {
  page: Page;
  /** Closes the page's browser. */
  close(): Promise<void>;
}

export interface TestBrowser {
  name: string;
  /** A page in a fresh browser context (nothing cached from an earlier run). */
  open(viewport: { width: number; height: number }): Promise<OpenedPage>;
}

async function openIn(browser: Browser, viewport: { width: number; height: number }): Promise<OpenedPage> {
  const page = await (await browser.newContext({ viewport })).newPage();
  return { page, close: () => browser.close() };
}

export const BROWSERS: readonly TestBrowser[] = [
  {
    name: "Chromium",
    open: async (viewport) =>
      openIn(await playwright.chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }), viewport),
  },
  {
    name: "Firefox",
    open: async (viewport) =>
      openIn(await playwright._bidiFirefox.launch({ executablePath: FIREFOX, headless: true }), viewport),
  },
];
