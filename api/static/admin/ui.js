// DOM helpers shared by every page: element building, formatting for people, and showing
// a problem (RFC 9457) as words next to the fields it names. No inline style or script is
// ever produced, so the page runs under a Content-Security-Policy of 'self' only.

/** h("tag", {attributes, onclick: fn}, ...children): a new element. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = value;
    } else if (name === "value" || name === "checked" || name === "selected") {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let counter = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix = "f") {
  counter += 1;
  return `${prefix}-${counter}`;
}

const numbers = new Intl.NumberFormat(undefined);
const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 0 });
const times = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium", timeStyle: "short", timeZone: "UTC",
});

/** 10000 -> "10,000" (the reader's locale); null -> the fallback. */
export function num(value, fallback = "—") {
  return value === null || value === undefined ? fallback : numbers.format(value);
}

/** 1 -> "1 code", 2 -> "2 codes" (the number as num() shows it). */
export function count(value, singular, plural = `${singular}s`) {
  return `${num(value)} ${value === 1 ? singular : plural}`;
}

export function pct(part, whole) {
  return whole ? percent.format(part / whole) : percent.format(0);
}

/** An RFC 3339 timestamp as "30 Nov 2026, 06:18 UTC", the exact value in a tooltip. */
export function when(iso) {
  if (!iso) return "—";
  return h("time", { datetime: iso, title: iso }, `${times.format(new Date(iso))} UTC`);
}

/** "points_multiplier" -> "Points multiplier" */
export function words(code) {
  if (!code) return "";
  const text = String(code).replaceAll("_", " ").replaceAll(".", " · ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, text);
}

/** A message region: role=alert for errors (read at once), role=status otherwise. */
export function notice(kind, ...content) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
    ...content);
}

/** A labelled form control with room for its own error message underneath. */
export function field(label, control, { hint, name } = {}) {
  const id = control.id || uid("input");
  control.id = id;
  if (name) control.dataset.field = name;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    h("p", { class: "field-error", id: errorId, "data-error-for": name || id, hidden: true }));
}

/** Clear the messages showField errors left in a form. */
export function clearErrors(form) {
  for (const p of form.querySelectorAll(".field-error")) {
    p.hidden = true;
    p.textContent = "";
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/**
 * Put each `errors[]` entry of a problem next to its field (matched by data-field, or by
 * `mapField`); returns the entries no field took, to be listed in the form's alert.
 */
export function showFieldErrors(form, problem, mapField = (f) => f) {
  clearErrors(form);
  const rest = [];
  let first = null;
  for (const error of problem.errors || []) {
    const name = mapField(error.field);
    const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    const input = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (!slot) {
      rest.push(error);
      continue;
    }
    slot.textContent = slot.textContent ? `${slot.textContent} ${error.message}` : error.message;
    slot.hidden = false;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    }
  }
  if (first) first.focus();
  return rest;
}

/**
 * The problem's `detail` (and any field errors no control showed) as an alert. An error the
 * detail already states ("line 3: ..." in both) is not listed again.
 */
export function problemNotice(error, leftover) {
  const problem = error.problem || { detail: String(error.message || error) };
  const detail = problem.detail || problem.title || "Something went wrong.";
  const items = (leftover ?? problem.errors ?? []).map((e) => `${e.field}: ${e.message}`)
    .filter((text) => !detail.includes(text));
  return notice("error",
    h("p", {}, detail),
    items.length ? h("ul", {}, items.map((text) => h("li", {}, text))) : null);
}

/** A table in a horizontally scrolling wrapper (narrow screens), or the empty state. */
export function table(caption, headers, rows, empty) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
    h("table", {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows)));
}

/**
 * Ask before something that cannot be taken back: a modal <dialog> (focus kept inside,
 * Escape cancels). `body` may hold extra controls; resolves true on confirm.
 */
export function confirmDialog({ title, body, confirm, danger = false }) {
  return new Promise((resolve) => {
    const titleId = uid("dialog-title");
    const dialog = h("dialog", { "aria-labelledby": titleId, class: "dialog" });
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    const form = h("form", { method: "dialog", onsubmit: (e) => { e.preventDefault(); done(true); } },
      h("h2", { id: titleId }, title),
      body,
      h("div", { class: "actions" },
        h("button", { type: "submit", class: danger ? "danger" : "primary" }, confirm),
        h("button", { type: "button", onclick: () => done(false) }, "Cancel")));
    dialog.append(form);
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); done(false); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

// Digits in groups of three split by one kind of separator, as num() shows numbers: "1,500",
// "20 000" (also the no-break spaces some locales print), "1_000". "1,5" is not: in many
// locales that is one and a half.
const GROUPED = /^-?\d{1,3}([,_ \u00a0\u202f])\d{3}(?:\1\d{3})*$/;

/**
 * Read a text input as a whole number when it is one (thousands separators allowed), else as
 * typed, so the API names the problem ("Input should be a valid integer"); blank -> null.
 */
export function intOrText(value) {
  const trimmed = value.trim();
  if (trimmed === "") return null;
  if (/^-?\d+$/.test(trimmed)) return Number(trimmed);
  return GROUPED.test(trimmed) ? Number(trimmed.replace(/[^\d-]/g, "")) : trimmed;
}

/** A <input type=datetime-local> value, read as UTC, as RFC 3339; blank -> null. */
export function utcFromInput(value) {
  if (!value) return null;
  return value.length === 16 ? `${value}:00Z` : `${value}Z`;
}

export function inputFromUtc(iso) {
  return iso ? iso.replace(/Z$/, "").slice(0, 19) : "";
}

/** Start a download of text as a file (a blob: link, nothing leaves the browser). */
export function download(filename, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A fresh idempotency key for one user action (kept while that action is retried). */
export function newKey(prefix) {
  // getRandomValues, not randomUUID: the latter needs HTTPS, and Coffer may sit behind plain
  // HTTP on a private network.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `dashboard:${prefix}:${hex}`;
}
