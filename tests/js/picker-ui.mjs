// Drive the status picker card in the Microsoft 365 Agents Playground's web UI like a person: type /set in
// the personal chat, pick "Appear away" for "30 minutes", write a status message, press Apply, and see
// the card become the presence card.
//
//   node picker-ui.mjs <playground-url> <picker.png> <applied.png> [<failure.png>]
//
// Prints one JSON object: the picker card's text, the card's text after Apply, and the page's errors.
// Exits 1 when a step does not happen in time, with a screenshot of the moment in <failure.png>.
import path from "node:path";
import { uiSession } from "./ui-session.mjs";

const [url, pickerPng, appliedPng, failurePng] = process.argv.slice(2);
if (!url || !pickerPng || !appliedPng) {
  console.error("usage: node picker-ui.mjs <playground-url> <picker.png> <applied.png> [<failure.png>]");
  process.exit(2);
}
const failure = failurePng ?? path.join(path.dirname(appliedPng), "picker-failure.png");

await uiSession(
  url,
  failure,
  async (ui) => {
    const { page } = ui;
    await ui.say("/set");

    ui.step = "see the picker card";
    const picker = ui.cardWith("Set your status").last();
    await picker.waitFor();
    const pickerText = await picker.innerText();

    ui.step = "pick Appear away for 30 minutes, with a status message";
    // The Playground draws a compact Input.ChoiceSet as a dropdown (a combobox and its listbox).
    const pick = async (index, option) => {
      await picker.getByRole("combobox").nth(index).click();
      await page.getByRole("option", { name: option, exact: true }).click();
    };
    await pick(0, "Appear away");
    await pick(1, "30 minutes");
    await picker.getByPlaceholder("Focus time").fill("Out for lunch");
    await page.screenshot({ path: pickerPng });

    ui.step = "press Apply";
    await picker.getByRole("button", { name: "Apply" }).click();

    ui.step = "see the presence card";
    const applied = ui.cardWith("Out for lunch").filter({ hasText: "Away" }).last();
    await applied.waitFor();
    await page.waitForLoadState("networkidle").catch(() => {});
    const appliedText = await applied.innerText();
    await page.screenshot({ path: appliedPng });
    return { pickerText, appliedText };
  },
  { viewport: { width: 1280, height: 960 } },
);
