// Catalog: the active rewards with their stock, a reward's create/edit form (the API's own
// validation messages shown field by field), deactivation, and code uploads from a file.

import { api } from "./api.js";
import { badge, confirmDialog, field, fill, h, notice, num, problemNotice, table, words } from "./ui.js";
import { uploadCodes } from "./codes.js";
import { rewardForm, statusBadge, TYPES } from "./reward-form.js";

export function render(main, rewardId) {
  const filter = h("select", { name: "reward_type" },
    h("option", { value: "" }, "All types"),
    TYPES.map((type) => h("option", { value: type }, words(type))));
  const list = h("div", { "aria-live": "polite" });
  const panel = h("div", {});
  const status = h("div", {});
  const findInput = h("input", { type: "text", name: "reward_id", placeholder: "rwd_…" });

  fill(main,
    h("div", { class: "page-head" },
      h("h1", {}, "Catalog"),
      h("button", { type: "button", class: "primary", onclick: () => openForm(null) },
        "New reward")),
    status,
    panel,
    h("div", { class: "toolbar" },
      field("Type", filter),
      h("form", { class: "inline", onsubmit: find },
        field("Open a reward by id", findInput),
        h("button", { type: "submit" }, "Open"))),
    list,
    h("p", { class: "hint" }, "The API lists active rewards only; open a scheduled, expired ",
      "or deactivated reward by its id."));

  filter.addEventListener("change", () => load());

  async function load(cursor = null, into = null) {
    if (!into) fill(list, h("p", { class: "loading" }, "Loading rewards…"));
    try {
      const page = await api("GET", "/rewards", {
        query: { reward_type: filter.value, limit: 100, cursor },
      });
      const rows = page.rewards.map(row);
      if (into) {
        into.append(...rows);
      } else {
        const empty = filter.value
          ? `No active ${words(filter.value).toLowerCase()} rewards.`
          : "No active rewards yet. Create one with “New reward”.";
        fill(list,
          h("p", { class: "count" }, `${num(page.total)} active reward${page.total === 1 ? "" : "s"}`),
          table("Rewards", ["Name", "Type", "Status", "Points cost", "Available codes", "Actions"],
            rows, empty));
      }
      const body = list.querySelector("tbody");
      list.querySelector(".more")?.remove();
      if (page.next_cursor && body) {
        list.append(h("button", { type: "button", class: "more",
          onclick: () => load(page.next_cursor, body) }, "Show more rewards"));
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
        h("button", { type: "button", onclick: () => openForm(reward) }, "Edit"),
        h("button", { type: "button", onclick: () => openUpload(reward) }, "Upload codes"),
        reward.status === "inactive" ? null
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

  function openForm(reward) {
    fill(status);
    fill(panel, rewardForm(reward, (saved, created) => {
      fill(panel);
      fill(status, notice("success", created ? `Created “${saved.name}”. ` : `Saved “${saved.name}”. `,
        created ? "Upload its codes next (Upload codes), or let it generate them." : ""));
      load();
    }, () => fill(panel)));
    panel.querySelector("input")?.focus();
  }

  function openUpload(reward) {
    fill(status);
    fill(panel, uploadCodes(reward, () => fill(panel), () => load()));
    panel.querySelector("input")?.focus();
  }

  async function deactivate(reward) {
    const yes = await confirmDialog({
      title: `Deactivate “${reward.name}”?`,
      body: h("p", {}, "No new claims of it from now on; existing claims stay readable. ",
        "The API has no way to reactivate a reward."),
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

  load();
  if (rewardId) api("GET", `/rewards/${encodeURIComponent(rewardId)}`).then(openForm,
    (error) => fill(status, problemNotice(error)));
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
