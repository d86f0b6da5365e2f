// Drive the Microsoft 365 Agents Playground's web UI like a person: type /busy 30m in the personal chat,
// see the bot's card, press its "Do not disturb 1h" button, see the card change in place.
//
//   node playground-ui.mjs <playground-url> <busy.png> <updated.png> [<failure.png>]
//
// Prints one JSON object: the cards' text before and after, how many cards the chat showed, what the page
// tried to fetch off the machine (blocked), and the page's errors. Exits 1 when a step does not happen in
// time, with a screenshot of the moment in <failure.png> (default: next to <updated.png>).
import path from "node:path";
import { uiSession } from "./ui-session.mjs";

const [url, busyPng, updatedPng, failurePng] = process.argv.slice(2);
if (!url || !busyPng || !updatedPng) {
  console.error("usage: node playground-ui.mjs <playground-url> <busy.png> <updated.png> [<failure.png>]");
  process.exit(2);
}
const failure =
  failurePng ?? path.join(path.dirname(updatedPng), `${path.basename(updatedPng, ".png")}-failure.png`);

await uiSession(url, failure, async (ui) => {
  const { page, cards, browser } = ui;
  await ui.say("/busy 30m");

  ui.step = "see the In a call card";
  // The presence card's headline: Teams' icon (an image, named for screen readers) beside the label.
  const showing = (label, icon) => cards.filter({ has: page.getByRole("img", { name: icon }), hasText: label });
  const busy = showing("In a call", "Red dot").last();
  await busy.waitFor();
  await busy.getByRole("button", { name: "Do not disturb 1h" }).waitFor();
  const busyText = await busy.innerText();
  const busyIconWidth = await busy.getByRole("img", { name: "Red dot" }).evaluate((img) => img.naturalWidth);
  const cardsBefore = await cards.count();
  await page.screenshot({ path: busyPng });

  ui.step = "press Do not disturb 1h";
  await busy.getByRole("button", { name: "Do not disturb 1h" }).click();

  ui.step = "see the card change to Do not disturb";
  const updated = showing("Do not disturb", "Red circle with a minus").last();
  await updated.waitFor();
  await page.waitForLoadState("networkidle").catch(() => {});
  const updatedText = await updated.innerText();
  const result = {
    busyText,
    busyIconWidth,
    updatedText,
    cardsBefore,
    cardsAfter: await cards.count(),
    inACallCardsAfter: await showing("In a call", "Red dot").count(),
    blocked: browser.blocked,
  };
  await page.screenshot({ path: updatedPng });
  return result;
});
