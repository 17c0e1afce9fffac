// Events: the fact stream, newest first by default (`order=desc`, paging back with `before`)
// or oldest first, with a type filter kept in the address (#/events/<type>) so a reload or a
// shared link keeps it.

import { api } from "./api.js";
import { field, fill, h, num, problemNotice, table, when } from "./ui.js";
import { EVENT_TYPES } from "./webhooks.js";

const PAGE = 100;

export function render(main, chosenType) {
  const type = h("select", { name: "type" }, h("option", { value: "" }, "All types"),
    EVENT_TYPES.map((t) => h("option", { value: t, selected: t === chosenType }, t)));
  const order = h("select", { name: "order" },
    h("option", { value: "desc" }, "Newest first"),
    h("option", { value: "asc" }, "Oldest first"));
  const list = h("div", { "aria-live": "polite" });
  fill(main,
    h("h1", {}, "Events"),
    h("p", { class: "hint" }, "Every fact Coffer recorded: the same events your webhook ",
      "endpoints receive (an event's id is the deliveries' webhook-id)."),
    h("div", { class: "toolbar" }, field("Type", type), field("Order", order)),
    list);
  type.addEventListener("change", () => {
    // replaceState, not location.hash: no hashchange, so the page (and the select's focus)
    // stays, and Back does not step through every type tried.
    history.replaceState(null, "", type.value ? `#/events/${encodeURIComponent(type.value)}` : "#/events");
    load();
  });
  order.addEventListener("change", () => load());
  let shown = 0;

  async function load(cursor = null) {
    const newestFirst = order.value === "desc";
    if (!cursor) {
      shown = 0;
      fill(list, h("p", { class: "loading" }, "Loading events…"));
    }
    try {
      // Newest first pages backwards: its next_cursor goes in `before` (docs/api-extensions.md).
      const page = await api("GET", "/events", { query: {
        type: type.value, order: order.value, limit: PAGE,
        [newestFirst ? "before" : "after"]: cursor,
      } });
      shown += page.events.length;
      const rows = page.events.map((e) => h("tr", { "data-event-type": e.type },
        h("td", {}, when(e.created_at)),
        h("td", {}, h("code", {}, e.type)),
        h("td", {}, summary(e.data)),
        h("td", {}, h("code", { class: "id" }, e.id))));
      const more = page.next_cursor ? h("button", { type: "button", class: "more",
        onclick: (ev) => { ev.target.remove(); load(page.next_cursor); } },
      newestFirst ? "Load older events" : "Load newer events") : null;
      if (cursor) {
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

/** The fact's data as "name: value" lines: numbers and times as people read them. */
function summary(data) {
  return h("dl", { class: "data" }, Object.entries(data || {}).map(([name, value]) => h("div", {},
    h("dt", {}, name),
    h("dd", {}, shown(name, value)))));
}

function shown(name, value) {
  if (typeof value === "string" && name.endsWith("_at")) return when(value); // RFC 3339
  return text(value);
}

function text(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return num(value);
  if (Array.isArray(value)) return value.length ? value.map(text).join(", ") : "none";
  if (typeof value === "object") {
    // e.g. failures_by_code: "inventory_exhausted: 10, campaign_cancelled: 2"
    const entries = Object.entries(value);
    return entries.length ? entries.map(([k, v]) => `${k}: ${text(v)}`).join(", ") : "none";
  }
  return String(value);
}
