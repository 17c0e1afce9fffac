// The dashboard's shell: sign-in, navigation and the hash router (#/catalog, #/participant/ID,
// #/webhooks, #/campaigns/ID, #/events). Each page module exports render(main, arg), which
// may return a function that stops its timers when the person leaves the page.

import { api, session, whenUnauthorized } from "./api.js";
import { h, fill, field, notice } from "./ui.js";
import * as catalog from "./catalog.js";
import * as participant from "./participant.js";
import * as webhooks from "./webhooks.js";
import * as campaigns from "./campaigns.js";
import * as events from "./events.js";
import { dismissUpload, uploadActivity, uploadState } from "./codes.js";

const PAGES = [
  ["catalog", "Catalog", catalog],
  ["participant", "Participant", participant],
  ["campaigns", "Campaigns", campaigns],
  ["webhooks", "Webhooks", webhooks],
  ["events", "Events", events],
];
const root = document.getElementById("app");
let stopPage = null;
let signInMessage = null;

whenUnauthorized((error) => {
  session.clear();
  signInMessage = `Signed out: ${error.problem.detail}`;
  route();
});

function signIn() {
  const input = h("input", {
    type: "password", name: "key", autocomplete: "off", spellcheck: "false", required: true,
  });
  const status = h("div", { "aria-live": "polite" });
  if (signInMessage) fill(status, notice("error", signInMessage));
  signInMessage = null;
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "card signin", novalidate: true, onsubmit: submit },
    h("h1", {}, "Coffer dashboard"),
    h("p", {}, "Sign in with your tenant's admin key. It stays in this browser tab only ",
      "(session storage) and is forgotten when the tab closes."),
    field("Admin key", input, { hint: "ck_live_… or ck_test_… — an admin key, not a server key." }),
    h("div", { class: "actions" }, button),
    status);

  async function submit(event) {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      fill(status, notice("error", "Enter an admin key."));
      input.focus();
      return;
    }
    button.disabled = true;
    fill(status, notice("info", "Checking the key…"));
    try {
      // A harmless admin-only read: 200 for an admin key, 403 for a server key.
      await api("GET", "/webhook-endpoints", { query: { limit: 1 }, key });
      session.save(key);
      // Changing the hash routes (hashchange); routing here as well would render the page
      // twice, with two sets of requests in flight.
      if (!location.hash || location.hash === "#/") location.hash = "#/catalog";
      else route();
    } catch (error) {
      const text = error.status === 403
        ? "This is a server key. It can read the catalog, claim and credit points from your " +
          "backend, but the dashboard needs an admin key. Sign in with the tenant's admin key."
        : error.problem.detail;
      fill(status, notice("error", text));
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } finally {
      button.disabled = false;
    }
  }

  fill(root, h("main", { class: "signin-page", id: "main" }, form));
  input.focus();
}

// A codes upload goes on while the person reads other pages: the header says how far it is,
// then how it ended (until dismissed) if its form was closed meanwhile.
const uploadIndicator = h("div", { class: "upload-indicator", role: "status", hidden: true });
uploadActivity.addEventListener("change", showUpload);

function showUpload() {
  const upload = uploadState();
  uploadIndicator.hidden = !upload;
  if (!upload) {
    fill(uploadIndicator);
    return;
  }
  fill(uploadIndicator, h("span", {}, upload.text),
    upload.dismissable ? [" ", h("button", { type: "button", class: "link",
      onclick: () => { dismissUpload(); document.getElementById("main")?.focus(); } },
      "Dismiss")] : null);
}

function shell(current) {
  const nav = h("nav", { "aria-label": "Dashboard" },
    h("ul", {}, PAGES.map(([slug, label]) => h("li", {},
      h("a", { href: `#/${slug}`, "aria-current": slug === current ? "page" : false }, label)))));
  const mode = session.mode;
  const main = h("main", { id: "main", tabindex: "-1" });
  fill(root,
    h("a", { class: "skip", href: "#main", onclick: (e) => { e.preventDefault(); main.focus(); } },
      "Skip to content"),
    h("header", { class: "top" },
      h("span", { class: "brand" }, "Coffer"),
      h("span", { class: `badge mode-${mode}`, title: "The key's mode" },
        mode === "test" ? "Test mode" : "Live mode"),
      nav,
      uploadIndicator,
      h("button", { type: "button", class: "link signout", onclick: signOut }, "Sign out")),
    main);
  return main;
}

function signOut() {
  session.clear();
  location.hash = "";
  route();
}

function route() {
  if (stopPage) stopPage();
  stopPage = null;
  if (!session.key) {
    signIn();
    return;
  }
  const [, slug = "catalog", ...rest] = location.hash.split("/");
  const page = PAGES.find(([name]) => name === slug) || PAGES[0];
  const main = shell(page[0]);
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : null;
  document.title = `${page[1]} · Coffer dashboard`;
  stopPage = page[2].render(main, arg) || null;
  // Rendering replaced what had focus (the link followed, the sign-in button): start the
  // keyboard and screen reader at the page's content, unless the page focused a control.
  if (!main.contains(document.activeElement)) main.focus();
}

window.addEventListener("hashchange", route);
route();
