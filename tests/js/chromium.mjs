// Headless Debian Chromium through playwright-core: one set of flags for every script, a fresh profile
// per launch, and no traffic beyond loopback and local files (anything else is aborted and recorded).
//
//   import { launchChromium } from "./chromium.mjs";
//   const browser = await launchChromium({ viewport: { width: 1280, height: 800 } });
//   const page = browser.page; … ; browser.blocked  // URLs the page tried to reach off the machine
//   await browser.close();                             // also removes the profile
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

// playwright adds --headless (headless: true) and --user-data-dir (launchPersistentContext) itself.
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

function isLocal(url) {
  const parsed = new URL(url);
  if (["file:", "data:", "blob:", "about:"].includes(parsed.protocol)) return true;
  return LOCAL_HOSTS.has(parsed.hostname);
}

export async function launchChromium({ viewport = { width: 1280, height: 800 }, deviceScaleFactor = 1 } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "presence-bot-chromium-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport,
      deviceScaleFactor,
      locale: "en-US",
      timezoneId: "UTC",
      colorScheme: "light",
      timeout: 60_000,
    });
  } catch (error) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  const blocked = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    blocked.push(url);
    return route.abort("blockedbyclient");
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    blocked,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
