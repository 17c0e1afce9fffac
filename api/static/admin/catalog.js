// Catalog: the active rewards with their stock, a reward's create/edit form (the API's own
// validation messages shown field by field), deactivation, and code uploads from a file.

import { api } from "./api.js";
import {
  badge, clearErrors, confirmDialog, field, fill, h, inputFromUtc, intOrText, notice, num,
  problemNotice, showFieldErrors, table, utcFromInput, words,
} from "./ui.js";
import { uploadCodes } from "./codes.js";

export const TYPES = ["coupon", "voucher", "physical", "digital", "points_multiplier"];

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

export function statusBadge(status) {
  const kind = { active: "ok", scheduled: "info", expired: "muted", inactive: "muted" }[status];
  return badge(words(status), kind);
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

/** The create (reward = null) or edit form; calls done(saved, created) on success. */
function rewardForm(reward, done, cancel) {
  const editing = reward !== null;
  const r = reward || {};
  const text = (name, value, attrs = {}) =>
    h("input", { type: "text", name, value: value ?? "", ...attrs });
  const number = (name, value) => text(name, value === null || value === undefined ? "" : String(value),
    { inputmode: "numeric" });
  const inputs = {
    name: text("name", r.name, { maxlength: 200 }),
    type: h("select", { name: "type" }, TYPES.map((t) =>
      h("option", { value: t, selected: (r.type || "coupon") === t }, words(t)))),
    description: h("textarea", { name: "description", rows: 2 }, r.description ?? ""),
    points_cost: number("points_cost", r.points_cost),
    max_claims_per_user: number("max_claims_per_user", r.max_claims_per_user ?? 1),
    low_stock_threshold: number("low_stock_threshold", r.low_stock_threshold),
    code_expiry_days: number("code_expiry_days", r.code_expiry_days),
    starts_at: h("input", { type: "datetime-local", name: "starts_at", step: 1,
      value: inputFromUtc(r.starts_at) }),
    expires_at: h("input", { type: "datetime-local", name: "expires_at", step: 1,
      value: inputFromUtc(r.expires_at) }),
    generate: h("input", { type: "checkbox", name: "generate", checked: Boolean(r.code_generation) }),
    "code_generation.prefix": text("prefix", r.code_generation?.prefix),
    "code_generation.length": number("length", r.code_generation?.length ?? 8),
    "multiplier.factor": text("factor", r.multiplier?.factor, { inputmode: "decimal" }),
    "multiplier.duration_days": number("duration_days", r.multiplier?.duration_days),
    "fulfillment.endpoint_id": text("endpoint_id", r.fulfillment?.endpoint_id, { placeholder: "whe_…" }),
    "fulfillment.on_failure": h("select", { name: "on_failure" },
      ["keep", "reverse"].map((v) => h("option", { value: v,
        selected: (r.fulfillment?.on_failure || "keep") === v }, v === "keep"
          ? "Keep the claim (mark fulfillment failed)" : "Reverse the claim (restock)"))),
  };
  const f = (label, name, hint) => field(label, inputs[name], { name, hint });
  const generation = h("fieldset", { class: "group" },
    h("legend", {}, "Code generation"),
    h("label", { class: "check" }, inputs.generate, " Generate a code when no uploaded code is left"),
    h("div", { class: "row" },
      f("Prefix", "code_generation.prefix"),
      f("Random characters", "code_generation.length", "4 to 64")));
  const multiplier = h("fieldset", { class: "group" },
    h("legend", {}, "Points multiplier"),
    h("div", { class: "row" },
      f("Factor", "multiplier.factor", "More than 1, at most 10, e.g. 1.5"),
      f("Duration (days)", "multiplier.duration_days")));
  const showMultiplier = () => { multiplier.hidden = inputs.type.value !== "points_multiplier"; };
  inputs.type.addEventListener("change", showMultiplier);
  showMultiplier();
  const alert = h("div", {});
  const save = h("button", { type: "submit", class: "primary" }, editing ? "Save changes" : "Create reward");
  const form = h("form", { class: "card", novalidate: true, onsubmit: submit,
    "aria-labelledby": "reward-form-title" },
    h("h2", { id: "reward-form-title" }, editing ? `Edit “${r.name}”` : "New reward"),
    editing ? h("p", { class: "hint" }, h("code", {}, r.id), " · ", statusBadge(r.status)) : null,
    h("div", { class: "row" }, f("Name", "name"), f("Type", "type")),
    f("Description", "description"),
    h("div", { class: "row" },
      f("Points cost", "points_cost", "Blank = free"),
      f("Claims per participant", "max_claims_per_user"),
      f("Low-stock warning below", "low_stock_threshold", "Blank = no warning"),
      f("Codes valid for (days)", "code_expiry_days", "Blank = never expire")),
    h("div", { class: "row" },
      f("Starts at (UTC)", "starts_at", "Blank = at once"),
      f("Expires at (UTC)", "expires_at", "Blank = never")),
    generation,
    multiplier,
    h("fieldset", { class: "group" },
      h("legend", {}, "Fulfillment (optional)"),
      h("div", { class: "row" },
        f("Webhook endpoint id", "fulfillment.endpoint_id", "Each claim is delivered to it"),
        f("If delivery finally fails", "fulfillment.on_failure"))),
    alert,
    h("div", { class: "actions" }, save, h("button", { type: "button", onclick: cancel }, "Cancel")));

  function values() {
    const v = (name) => inputs[name].value;
    const body = {
      name: v("name").trim(),
      type: v("type"),
      description: v("description").trim() || null,
      points_cost: intOrText(v("points_cost")),
      max_claims_per_user: intOrText(v("max_claims_per_user")),
      low_stock_threshold: intOrText(v("low_stock_threshold")),
      code_expiry_days: intOrText(v("code_expiry_days")),
      starts_at: utcFromInput(v("starts_at")),
      expires_at: utcFromInput(v("expires_at")),
      code_generation: inputs.generate.checked ? {
        prefix: v("code_generation.prefix"), length: intOrText(v("code_generation.length")),
      } : null,
      multiplier: v("type") === "points_multiplier" ? {
        factor: v("multiplier.factor").trim() === "" ? null
          : Number.isNaN(Number(v("multiplier.factor"))) ? v("multiplier.factor")
            : Number(v("multiplier.factor")),
        duration_days: intOrText(v("multiplier.duration_days")),
      } : null,
      fulfillment: v("fulfillment.endpoint_id").trim() ? {
        endpoint_id: v("fulfillment.endpoint_id").trim(), on_failure: v("fulfillment.on_failure"),
      } : null,
    };
    if (body.max_claims_per_user === null) delete body.max_claims_per_user;
    if (!editing) {
      for (const [name, value] of Object.entries(body)) if (value === null) delete body[name];
      return body;
    }
    // PATCH: send only what changed; null clears a nullable field (CONTRACT §4).
    const before = {
      ...r, code_generation: r.code_generation ?? null, multiplier: r.multiplier ?? null,
      fulfillment: r.fulfillment ?? null,
    };
    const changed = {};
    for (const [name, value] of Object.entries(body)) {
      if (JSON.stringify(value) !== JSON.stringify(before[name] ?? null)) changed[name] = value;
    }
    return changed;
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors(form);
    fill(alert);
    const body = values();
    if (editing && Object.keys(body).length === 0) {
      fill(alert, notice("info", "Nothing changed."));
      return;
    }
    save.disabled = true;
    try {
      const saved = editing
        ? await api("PATCH", `/rewards/${r.id}`, { json: body })
        : await api("POST", "/rewards", { json: body });
      done(saved, !editing);
    } catch (error) {
      const leftover = showFieldErrors(form, error.problem || {});
      fill(alert, problemNotice(error, leftover));
    } finally {
      save.disabled = false;
    }
  }
  return form;
}
