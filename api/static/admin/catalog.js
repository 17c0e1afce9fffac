// Catalog: the rewards of one status (active by default; scheduled, expired, inactive or all
// through the admin `status` filter) with their stock, a reward's create/edit form (the API's
// own validation messages shown field by field), deactivation and reactivation, and code
// uploads from a file.

import { api } from "./api.js";
import { badge, confirmDialog, field, fill, h, notice, num, problemNotice, table, words } from "./ui.js";
import { uploadActivity, uploadCodes } from "./codes.js";
import { rewardForm, statusBadge, TYPES } from "./reward-form.js";

// The listing's `status` filter (docs/api-extensions.md), in the order people look for them.
const STATUSES = ["active", "scheduled", "expired", "inactive", "all"];

export function render(main, rewardId) {
  const filter = h("select", { name: "reward_type" },
    h("option", { value: "" }, "All types"),
    TYPES.map((type) => h("option", { value: type }, words(type))));
  const statusFilter = h("select", { name: "status" },
    STATUSES.map((value) => h("option", { value }, value === "all" ? "All statuses" : words(value))));
  const list = h("div", { "aria-live": "polite" });
  const panel = h("div", {});
  const status = h("div", {});
  const findInput = h("input", { type: "text", name: "reward_id", placeholder: "rwd_…" });
  const newButton = h("button", { type: "button", class: "primary", onclick: () => openForm(null) },
    "New reward");

  fill(main,
    h("div", { class: "page-head" }, h("h1", {}, "Catalog"), newButton),
    status,
    panel,
    h("div", { class: "toolbar" },
      field("Status", statusFilter),
      field("Type", filter),
      h("form", { class: "inline", onsubmit: find },
        field("Open a reward by id", findInput),
        h("button", { type: "submit" }, "Open"))),
    list);

  filter.addEventListener("change", () => load());
  statusFilter.addEventListener("change", () => load());

  async function load(cursor = null, into = null) {
    if (!into) fill(list, h("p", { class: "loading" }, "Loading rewards…"));
    try {
      const page = await api("GET", "/rewards", {
        query: { reward_type: filter.value, status: statusFilter.value, limit: 100, cursor },
      });
      const rows = page.rewards.map(row);
      if (into) {
        into.append(...rows);
      } else {
        const chosen = statusFilter.value;
        const adjective = chosen === "all" ? "" : `${chosen} `;
        const empty = filter.value
          ? `No ${adjective}${words(filter.value).toLowerCase()} rewards.`
          : chosen === "active" ? "No active rewards yet. Create one with “New reward”."
            : chosen === "all" ? "No rewards yet. Create one with “New reward”."
              : `No ${chosen} rewards.`;
        fill(list,
          h("p", { class: "count" },
            `${num(page.total)} ${adjective}reward${page.total === 1 ? "" : "s"}`),
          table("Rewards", ["Name", "Type", "Status", "Points cost", "Available codes", "Actions"],
            rows, empty));
      }
      const body = list.querySelector("tbody");
      list.querySelector(".more")?.remove();
      if (page.next_cursor && body) {
        list.append(h("button", { type: "button", class: "more",
          onclick: (e) => { e.target.disabled = true; load(page.next_cursor, body); } },
        "Show more rewards"));
      }
    } catch (error) {
      fill(list, problemNotice(error));
    }
  }

  function row(reward) {
    return h("tr", { "data-reward-id": reward.id },
      h("td", {}, h("strong", {}, reward.name), h("br"), h("code", { class: "id" }, reward.id)),
      h("td", {}, words(reward.type)),
      h("td", {}, statusBadge(reward.status)),
      h("td", { class: "num" }, reward.points_cost === null ? "Free" : num(reward.points_cost)),
      h("td", { class: "num" }, stock(reward)),
      h("td", { class: "actions" },
        h("button", { type: "button", onclick: (e) => openForm(reward, e.currentTarget) }, "Edit"),
        h("button", { type: "button", onclick: (e) => openUpload(reward, e.currentTarget) },
          "Upload codes"),
        reward.status === "inactive"
          ? h("button", { type: "button", onclick: () => reactivate(reward) }, "Reactivate")
          : h("button", { type: "button", class: "danger", onclick: () => deactivate(reward) },
            "Deactivate")));
  }

  async function find(event) {
    event.preventDefault();
    const id = findInput.value.trim();
    if (!id) return;
    try {
      openForm(await api("GET", `/rewards/${encodeURIComponent(id)}`));
    } catch (error) {
      fill(status, problemNotice(error));
    }
  }

  // Closing a form puts focus back on the button that opened it (or on New reward, which
  // stays put while the list reloads), not on the page's body.
  function closePanel(opener) {
    fill(panel);
    (opener?.isConnected ? opener : newButton).focus();
  }

  function openForm(reward, opener = null) {
    fill(status);
    fill(panel, rewardForm(reward, (saved, created) => {
      closePanel(null);
      fill(status, notice("success", created ? `Created “${saved.name}”. ` : `Saved “${saved.name}”. `,
        created ? "Upload its codes next (Upload codes), or let it generate them." : ""));
      load();
    }, () => closePanel(opener)));
    panel.querySelector("input")?.focus();
  }

  function openUpload(reward, opener) {
    fill(status);
    fill(panel, uploadCodes(reward, () => closePanel(opener)));
    panel.querySelector("input")?.focus();
  }

  // The stock changes when an upload ends, even one started before this page was opened.
  const uploaded = () => load();
  uploadActivity.addEventListener("finished", uploaded);

  async function deactivate(reward) {
    const yes = await confirmDialog({
      title: `Deactivate “${reward.name}”?`,
      body: h("p", {}, "No new claims of it from now on; existing claims stay readable. ",
        "You can reactivate it later from the Inactive rewards."),
      confirm: "Deactivate", danger: true,
    });
    if (!yes) return;
    try {
      await api("DELETE", `/rewards/${reward.id}`);
      fill(status, notice("success", `Deactivated “${reward.name}”.`));
      load();
    } catch (error) {
      fill(status, problemNotice(error));
    }
  }

  async function reactivate(reward) {
    const yes = await confirmDialog({
      title: `Reactivate “${reward.name}”?`,
      body: h("p", {}, "Claims of it are accepted again from now on, within its start and ",
        "expiry dates."),
      confirm: "Reactivate",
    });
    if (!yes) return;
    try {
      const entry = await api("POST", `/rewards/${reward.id}/activate`);
      const now = entry.status === "active" ? "It is active again."
        : `It is ${entry.status} now: change its dates (Edit) for it to take claims.`;
      fill(status, notice("success", `Reactivated “${entry.name}”. ${now}`));
      load();
    } catch (error) {
      fill(status, problemNotice(error));
    }
  }

  load();
  if (rewardId) api("GET", `/rewards/${encodeURIComponent(rewardId)}`).then((r) => openForm(r),
    (error) => fill(status, problemNotice(error)));
  return () => uploadActivity.removeEventListener("finished", uploaded);
}

/** Available codes with a low-stock / out-of-stock warning. */
export function stock(reward) {
  if (reward.available_codes === null) return h("span", {}, "Generated on claim");
  const warn = reward.available_codes === 0
    ? badge(reward.code_generation ? "Generating" : "Out of stock", "danger")
    : reward.low_stock_threshold !== null && reward.available_codes < reward.low_stock_threshold
      ? badge("Low stock", "warn") : null;
  return h("span", { class: "stock" }, h("span", { class: "stock-count" }, num(reward.available_codes)),
    warn ? " " : null, warn);
}
