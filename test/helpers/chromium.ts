/**
 * Debian's Chromium as the dashboard's browser test and benchmark start it (playwright-core with
 * executablePath). Without the background-networking flags Chromium keeps trying the closed
 * network of this machine.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

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
