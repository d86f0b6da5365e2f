// Parse, validate and render Adaptive Cards with Microsoft's renderer, and say what it thought of them.
//
//   window.renderCards([{ name, card }, …]) -> [{ name, parseEvents, validationEvents, error, text, … }]
//
// Each card is parsed with a SerializationContext targeting Adaptive Cards 1.5 (what Teams renders), so
// anything the renderer does not know, or knows only from a later version, shows up as a parse event;
// then card.validateProperties() is asked too. The card is rendered into <section class="frame"
// data-card="name">, which render-cards.mjs screenshots.
(function () {
  "use strict";

  const AC = window.AdaptiveCards;
  const FONT =
    "'Segoe UI', 'Segoe UI Web (West European)', -apple-system, BlinkMacSystemFont, 'Selawik', " +
    "'Open Sans', 'Helvetica Neue', Arial, 'DejaVu Sans', sans-serif";
  const MONOSPACE = "Consolas, 'Courier New', 'DejaVu Sans Mono', monospace";

  // Teams' light host config, as Microsoft publishes it (samples/HostConfig in microsoft/AdaptiveCards)
  // and as the Agents Playground renders with: text #252424, accent #6264a7, good #92c353,
  // warning #f8d22a, attention #c4314b; sizes 12/14/14/18/24; spacing 8/12/16/20/24.
  const FOREGROUND = {
    default: { default: "#ff252424", subtle: "#bf252424" },
    dark: { default: "#252424", subtle: "#bf252424" },
    light: { default: "#ffffff", subtle: "#fff3f2f1" },
    accent: { default: "#6264a7", subtle: "#8b8cc7" },
    good: { default: "#92c353", subtle: "#e592c353" },
    warning: { default: "#f8d22a", subtle: "#e5f8d22a" },
    attention: { default: "#c4314b", subtle: "#e5c4314b" },
  };
  const style = (backgroundColor) => ({ backgroundColor, foregroundColors: FOREGROUND });
  const sizes = { small: 12, default: 14, medium: 14, large: 18, extraLarge: 24 };
  const weights = { lighter: 200, default: 400, bolder: 600 };

  const TEAMS_LIGHT = {
    supportsInteractivity: true,
    fontFamily: FONT,
    fontTypes: {
      default: { fontFamily: FONT, fontSizes: sizes, fontWeights: weights },
      monospace: { fontFamily: MONOSPACE, fontSizes: sizes, fontWeights: weights },
    },
    spacing: { small: 8, default: 12, medium: 16, large: 20, extraLarge: 24, padding: 16 },
    separator: { lineThickness: 1, lineColor: "#EEEEEE" },
    imageSizes: { small: 32, medium: 52, large: 100 },
    containerStyles: {
      default: style("#ffffff"),
      emphasis: style("#fff9f8f7"),
      accent: style("#C7DEF9"),
      good: style("#CCFFCC"),
      attention: style("#FFC5B2"),
      warning: style("#FFE2B2"),
    },
    actions: {
      maxActions: 6,
      spacing: "default",
      buttonSpacing: 0, // teams.css spaces the buttons with a gap instead, so that they can wrap
      showCard: { actionMode: "inline", inlineTopMargin: 16, style: "emphasis" },
      actionsOrientation: "horizontal",
      actionAlignment: "left",
      allowButtonsToWrap: true, // Teams' (and the Playground's); 3.0.6 ignores it: teams.css does it
    },
    adaptiveCard: { allowCustomStyle: false },
  };

  const hostConfig = new AC.HostConfig(TEAMS_LIGHT);

  function describeEvent(event) {
    return {
      phase: AC.ValidationPhase[event.phase] ?? String(event.phase),
      event: AC.ValidationEvent[event.event] ?? String(event.event),
      message: event.message,
      source: event.source && event.source.getJsonTypeName ? event.source.getJsonTypeName() : null,
    };
  }

  function describeAction(action) {
    const described = {
      type: action.getJsonTypeName(),
      title: action.title ?? null,
      verb: action.verb ?? null,
      data: action.data ?? null,
    };
    if (action.url) described.url = action.url; // Action.OpenUrl
    return described;
  }

  function renderOne(name, json, target) {
    const report = {
      name,
      parseEvents: [],
      validationEvents: [],
      error: null,
      version: null,
      text: "",
      width: 0,
      height: 0,
      actions: [],
      buttons: [],
      refresh: null,
    };
    const frame = document.createElement("section");
    frame.className = "frame";
    frame.dataset.card = name;
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    frame.appendChild(bubble);
    target.appendChild(frame);
    try {
      const card = new AC.AdaptiveCard();
      card.hostConfig = hostConfig;
      const context = new AC.SerializationContext(AC.Versions.v1_5);
      card.parse(json, context);
      for (let i = 0; i < context.eventCount; i++) report.parseEvents.push(describeEvent(context.getEventAt(i)));
      for (const event of card.validateProperties().validationEvents) {
        report.validationEvents.push(describeEvent(event));
      }
      report.version = card.version ? card.version.toString() : null;
      for (let i = 0; i < card.getActionCount(); i++) report.actions.push(describeAction(card.getActionAt(i)));
      if (card.refresh) {
        report.refresh = {
          action: card.refresh.action ? describeAction(card.refresh.action) : null,
          userIds: card.refresh.userIds ?? [],
        };
      }
      card.onExecuteAction = () => {}; // the proof is the rendering; pressing is the Playground's job
      const element = card.render();
      if (!element) throw new Error("card.render() returned nothing");
      bubble.appendChild(element);
      const box = element.getBoundingClientRect();
      report.text = element.innerText;
      report.width = Math.round(box.width);
      report.height = Math.round(box.height);
      report.buttons = Array.from(element.querySelectorAll("button.ac-pushButton")).map((button) => {
        const label = button.firstElementChild || button; // the renderer ellipsizes this inner <div>
        return {
          title: button.innerText.trim(),
          truncated: label.scrollWidth > label.clientWidth + 1,
          width: Math.round(button.getBoundingClientRect().width),
        };
      });
    } catch (error) {
      report.error = String((error && error.stack) || error);
    }
    return report;
  }

  window.renderCards = function renderCards(cards) {
    const target = document.getElementById("cards");
    target.replaceChildren();
    return cards.map(({ name, card }) => renderOne(name, card, target));
  };
})();
