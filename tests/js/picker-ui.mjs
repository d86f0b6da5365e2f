// Drive the status picker card in the Microsoft 365 Agents Playground's web UI like a person: type /set in
// the personal chat, pick "Appear away" for "30 minutes", write a status message, press Apply, and see
// the card become the presence card.
//
//   node picker-ui.mjs <playground-url> <picker.png> <applied.png> [<failure.png>]
//
// Prints one JSON object: the picker card's text, the card's text after Apply, and the page's errors.
// Exits 1 when a step does not happen in time, with a screenshot of the moment in <failure.png>.
import path from "node:path";
import { launchChromium } from "./chromium.mjs";

const STEP_TIMEOUT = 30_000;
const [url, pickerPng, appliedPng, failurePng] = process.argv.slice(2);
if (!url || !pickerPng || !appliedPng) {
  console.error("usage: node picker-ui.mjs <playground-url> <picker.png> <applied.png> [<failure.png>]");
  process.exit(2);
}

const browser = await launchChromium({ viewport: { width: 1280, height: 960 } });
const { page } = browser;
const pageErrors = [];
page.on("pageerror", (error) => pageErrors.push(String(error)));
page.setDefaultTimeout(STEP_TIMEOUT);

const cards = page.locator(".ac-adaptiveCard");
const cardWith = (text) => cards.filter({ hasText: text });
let step = "open the Playground";
try {
  await page.goto(url, { waitUntil: "domcontentloaded" });
  step = "see the welcome card";
  await cardWith("I'm Presence Bot").first().waitFor();

  step = "type /set";
  const compose = page.locator('[role="textbox"][contenteditable="true"][data-lexical-editor="true"]');
  await compose.click();
  await page.keyboard.type("/set");
  await page.keyboard.press("Enter");

  step = "see the picker card";
  const picker = cardWith("Set your status").last();
  await picker.waitFor();
  const pickerText = await picker.innerText();

  step = "pick Appear away for 30 minutes, with a status message";
  // The Playground draws a compact Input.ChoiceSet as a dropdown (a combobox and its listbox).
  const pick = async (index, option) => {
    await picker.getByRole("combobox").nth(index).click();
    await page.getByRole("option", { name: option, exact: true }).click();
  };
  await pick(0, "Appear away");
  await pick(1, "30 minutes");
  await picker.getByPlaceholder("Focus time").fill("Out for lunch");
  await page.screenshot({ path: pickerPng });

  step = "press Apply";
  await picker.getByRole("button", { name: "Apply" }).click();

  step = "see the presence card";
  const applied = cardWith("Out for lunch").filter({ hasText: "Away" }).last();
  await applied.waitFor();
  await page.waitForLoadState("networkidle").catch(() => {});
  const result = { pickerText, appliedText: await applied.innerText(), pageErrors };
  await page.screenshot({ path: appliedPng });
  process.stdout.write(JSON.stringify(result));
} catch (error) {
  const failure =
    failurePng ?? path.join(path.dirname(appliedPng), `${path.basename(appliedPng, ".png")}-failure.png`);
  await page.screenshot({ path: failure }).catch(() => {});
  console.error(`could not ${step}: ${error}\nscreenshot: ${failure}\npage errors: ${pageErrors.join("\n")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
