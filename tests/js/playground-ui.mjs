// Drive the Microsoft 365 Agents Playground's web UI like a person: type /busy 30m in the personal chat,
// see the bot's card, press its "Do not disturb 1h" button, see the card change in place.
//
//   node playground-ui.mjs <playground-url> <busy.png> <updated.png> [<failure.png>]
//
// Prints one JSON object: the cards' text before and after, how many cards the chat showed, what the page
// tried to fetch off the machine (blocked), and the page's errors. Exits 1 when a step does not happen in
// time, with a screenshot of the moment in <failure.png> (default: next to <updated.png>).
import path from "node:path";
import { launchChromium } from "./chromium.mjs";

const STEP_TIMEOUT = 30_000;
const [url, busyPng, updatedPng, failurePng] = process.argv.slice(2);
if (!url || !busyPng || !updatedPng) {
  console.error("usage: node playground-ui.mjs <playground-url> <busy.png> <updated.png> [<failure.png>]");
  process.exit(2);
}

const browser = await launchChromium({ viewport: { width: 1280, height: 860 } });
const { page } = browser;
const pageErrors = [];
page.on("pageerror", (error) => pageErrors.push(String(error)));
page.setDefaultTimeout(STEP_TIMEOUT);

const cards = page.locator(".ac-adaptiveCard");
const cardWith = (text) => cards.filter({ hasText: text });
let step = "open the Playground";
try {
  await page.goto(url, { waitUntil: "domcontentloaded" });
  // The Playground installs the app when it opens (installationUpdate, conversationUpdate): the bot's
  // welcome card shows that the UI, the Playground and the bot are connected.
  step = "see the welcome card";
  await cardWith("I'm Presence Bot").first().waitFor();

  step = "type /busy 30m";
  const compose = page.locator('[role="textbox"][contenteditable="true"][data-lexical-editor="true"]');
  await compose.click();
  await page.keyboard.type("/busy 30m");
  await page.keyboard.press("Enter");

  step = "see the In a call card";
  const busy = cardWith("● In a call").last();
  await busy.waitFor();
  await busy.getByRole("button", { name: "Do not disturb 1h" }).waitFor();
  const busyText = await busy.innerText();
  const cardsBefore = await cards.count();
  await page.screenshot({ path: busyPng });

  step = "press Do not disturb 1h";
  await busy.getByRole("button", { name: "Do not disturb 1h" }).click();

  step = "see the card change to Do not disturb";
  const updated = cardWith("● Do not disturb").last();
  await updated.waitFor();
  await page.waitForLoadState("networkidle").catch(() => {});
  const updatedText = await updated.innerText();
  const result = {
    busyText,
    updatedText,
    cardsBefore,
    cardsAfter: await cards.count(),
    inACallCardsAfter: await cardWith("● In a call").count(),
    blocked: browser.blocked,
    pageErrors,
  };
  await page.screenshot({ path: updatedPng });
  process.stdout.write(JSON.stringify(result));
} catch (error) {
  const failure =
    failurePng ?? path.join(path.dirname(updatedPng), `${path.basename(updatedPng, ".png")}-failure.png`);
  await page.screenshot({ path: failure }).catch(() => {});
  console.error(`could not ${step}: ${error}\nscreenshot: ${failure}\npage errors: ${pageErrors.join("\n")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
