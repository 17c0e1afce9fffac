// The reward form: create (POST /rewards) or edit (PATCH, only what changed) a reward,
// with the API's validation messages under the fields they name (CONTRACT §3, §4).

import { api } from "./api.js";
import {
  badge, clearErrors, field, fill, h, inputFromUtc, intOrText, notice, problemNotice,
  showFieldErrors, utcFromInput, words,
} from "./ui.js";

export const TYPES = ["coupon", "voucher", "physical", "digital", "points_multiplier"];

export function statusBadge(status) {
  const kind = { active: "ok", scheduled: "info", expired: "muted", inactive: "muted" }[status];
  return badge(words(status), kind);
}

/** The create (reward = null) or edit form; calls done(saved, created) on success. */
export function rewardForm(reward, done, cancel) {
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
