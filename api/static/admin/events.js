// Events: the fact stream (oldest first, as the API pages it) with a type filter.

import { api } from "./api.js";
import { field, fill, h, num, problemNotice, table, when } from "./ui.js";
import { EVENT_TYPES } from "./webhooks.js";

const PAGE = 100;

export function render(main) {
  const type = h("select", { name: "type" }, h("option", { value: "" }, "All types"),
    EVENT_TYPES.map((t) => h("option", { value: t }, t)));
  const list = h("div", { "aria-live": "polite" });
  fill(main,
    h("h1", {}, "Events"),
    h("p", { class: "hint" }, "Every fact Coffer recorded, oldest first: the same events your ",
      "webhook endpoints receive (an event's id is the deliveries' webhook-id)."),
    h("div", { class: "toolbar" }, field("Type", type)),
    list);
  type.addEventListener("change", () => load());
  let shown = 0;

  async function load(after = null) {
    if (!after) {
      shown = 0;
      fill(list, h("p", { class: "loading" }, "Loading events…"));
    }
    try {
      const page = await api("GET", "/events", { query: { type: type.value, after, limit: PAGE } });
      shown += page.events.length;
      const rows = page.events.map((e) => h("tr", { "data-event-type": e.type },
        h("td", {}, when(e.created_at)),
        h("td", {}, h("code", {}, e.type)),
        h("td", {}, summary(e.data)),
        h("td", {}, h("code", { class: "id" }, e.id))));
      const more = page.next_cursor ? h("button", { type: "button", class: "more",
        onclick: (ev) => { ev.target.remove(); load(page.next_cursor); } }, "Load newer events") : null;
      if (after) {
        list.querySelector("tbody")?.append(...rows);
        list.querySelector(".count").textContent = shownText();
        if (more) list.append(more);
        return;
      }
      fill(list,
        rows.length ? h("p", { class: "count" }, shownText()) : null,
        table("Events", ["When", "Type", "Data", "Event id"], rows,
          type.value ? `No ${type.value} events yet.` : "No events yet: claims, reversals and campaigns record them."),
        more);
    } catch (error) {
      fill(list, problemNotice(error));
    }
  }
  const shownText = () => `${num(shown)} event${shown === 1 ? "" : "s"} shown`;
  load();
}

/** The fact's data as "name: value" lines, numbers formatted. */
function summary(data) {
  return h("dl", { class: "data" }, Object.entries(data || {}).map(([name, value]) => h("div", {},
    h("dt", {}, name),
    h("dd", {}, typeof value === "number" ? num(value)
      : value !== null && typeof value === "object" ? JSON.stringify(value) : String(value ?? "—")))));
}
