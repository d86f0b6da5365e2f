// Render cards with the Adaptive Cards JS renderer in headless Chromium and screenshot each one.
//
//   node tests/render/render-cards.mjs <cards.json> <out-dir> [device-scale-factor, default 1]
//
// <cards.json> is [{ "name": "presence-busy", "card": { …Adaptive Card… } }, …]. Writes
// <out-dir>/<name>.png per card (an element screenshot of its frame) and prints one JSON object on
// stdout: { renderer, userAgent, blocked, pageErrors, cards: [ report per card, see render.js ] }.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const jsDir = path.resolve(here, "..", "js");
// playwright-core and adaptivecards live in tests/js/node_modules; so does the shared launcher.
const { launchChromium } = await import(pathToFileURL(path.join(jsDir, "chromium.mjs")).href);
const require = createRequire(path.join(jsDir, "package.json"));
const rendererVersion = require("adaptivecards/package.json").version;

const [cardsFile, outDir, scale = "1"] = process.argv.slice(2);
if (!cardsFile || !outDir) {
  console.error("usage: node render-cards.mjs <cards.json> <out-dir> [device-scale-factor]");
  process.exit(2);
}
const cards = JSON.parse(fs.readFileSync(cardsFile, "utf8"));
fs.mkdirSync(outDir, { recursive: true });

const browser = await launchChromium({ viewport: { width: 560, height: 900 }, deviceScaleFactor: Number(scale) });
try {
  const { page } = browser;
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  await page.goto(pathToFileURL(path.join(here, "index.html")).href);
  await page.waitForFunction(() => typeof window.renderCards === "function" && !!window.AdaptiveCards);
  const reports = await page.evaluate((all) => window.renderCards(all), cards);
  await page.evaluate(() => document.fonts.ready);
  for (const report of reports) {
    const frame = page.locator(`section.frame[data-card="${report.name}"]`);
    report.png = path.join(outDir, `${report.name}.png`);
    await frame.screenshot({ path: report.png, animations: "disabled" });
  }
  const result = {
    renderer: `adaptivecards ${rendererVersion}`,
    userAgent: await page.evaluate(() => navigator.userAgent),
    blocked: browser.blocked,
    pageErrors,
    cards: reports,
  };
  process.stdout.write(JSON.stringify(result));
} finally {
  await browser.close();
}
