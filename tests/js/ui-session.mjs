// One session in the Microsoft 365 Agents Playground's web UI, as a person uses it: open the page, wait
// for the bot's welcome card (the UI, the Playground and the bot are connected), then run `body` with
// helpers to type in the compose box and find cards. Prints `body`'s result as JSON; when a step does
// not happen in time, saves a screenshot of the moment to `failurePng` and exits 1.
import { launchChromium } from "./chromium.mjs";

const STEP_TIMEOUT = 30_000;

export async function uiSession(url, failurePng, body, { viewport = { width: 1280, height: 860 } } = {}) {
  const browser = await launchChromium({ viewport });
  const { page } = browser;
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  page.setDefaultTimeout(STEP_TIMEOUT);
  const cards = page.locator(".ac-adaptiveCard");
  const session = {
    page,
    browser,
    pageErrors,
    cards,
    step: "open the Playground",
    cardWith: (text) => cards.filter({ hasText: text }),
    async say(text) {
      session.step = `type ${text}`;
      const compose = page.locator('[role="textbox"][contenteditable="true"][data-lexical-editor="true"]');
      await compose.click();
      await page.keyboard.type(text);
      await page.keyboard.press("Enter");
    },
  };
  try {
    await page.goto(url, { waitUntil: "domcontentloaded" });
    // The Playground installs the app when it opens (installationUpdate, conversationUpdate).
    session.step = "see the welcome card";
    await session.cardWith("I'm Presence Bot").first().waitFor();
    const result = await body(session);
    process.stdout.write(JSON.stringify({ ...result, pageErrors }));
  } catch (error) {
    await page.screenshot({ path: failurePng }).catch(() => {});
    console.error(
      `could not ${session.step}: ${error}\nscreenshot: ${failurePng}\npage errors: ${pageErrors.join("\n")}`,
    );
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
