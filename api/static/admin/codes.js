// Upload codes from a file (CSV with the code in the first column, or one code a line), in
// chunks so a progress bar can follow; the API counts added and duplicate codes per chunk.
// One upload runs at a time in a tab. It goes on while the person opens other pages of the
// dashboard (the header shows it, app.js), and leaving or reloading the page asks first.

import { api } from "./api.js";
import { count, field, fill, h, notice, num, pct, problemNotice } from "./ui.js";

const CHUNK = 1000; // codes per request: ~40 kB, far below the body limit

/** Codes from the file's text, each with its line number (for error messages). */
export function parseCodes(text) {
  const codes = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/);
  lines.forEach((line, index) => {
    let code = line;
    if (line.startsWith('"')) {
      const end = line.indexOf('"', 1);
      code = end > 0 ? line.slice(1, end) : line.slice(1);
    } else if (line.includes(",")) {
      code = line.slice(0, line.indexOf(","));
    }
    code = code.trim();
    if (!code) return;
    if (codes.length === 0 && /^codes?$/i.test(code)) return; // a CSV header line
    codes.push({ code, line: index + 1 });
  });
  return codes;
}

/**
 * The tab's upload, for the header: `uploadActivity` fires "change" when it starts, moves,
 * or ends, and `uploadState()` then says { text, running, dismissable } or null (nothing to
 * show). An upload that ends while its form is closed leaves its outcome there until dismissed.
 */
export const uploadActivity = new EventTarget();
let state = null;
let busy = false;

export function uploadState() {
  return state;
}

function announce(next) {
  state = next;
  uploadActivity.dispatchEvent(new Event("change"));
}

export function dismissUpload() {
  if (!busy) announce(null);
}

// Leaving the page stops an upload in the middle: the browser asks first while one runs.
function askBeforeLeaving(event) {
  event.preventDefault();
  event.returnValue = ""; // older Chromium asks only when this is set
}

/** The problem of a refused chunk in the file's terms: `codes.N` becomes its line number. */
function inFileLines(problem, chunk) {
  const errors = (problem.errors || []).map((e) => {
    const match = /^codes\.(\d+)$/.exec(e.field);
    return match && chunk[Number(match[1])]
      ? { field: `line ${chunk[Number(match[1])].line}`, message: e.message, line: true } : e;
  });
  const lines = errors.filter((e) => e.line);
  if (!lines.length || lines.length !== errors.length) return { ...problem, errors };
  // The API's detail names positions in the request ("codes.499: ..."), which mean nothing
  // to the person: the headline says the line itself, or how many lines, listed below it.
  const detail = lines.length === 1 ? `${lines[0].field}: ${lines[0].message}`
    : `${count(lines.length, "line")} of the file were refused:`;
  return { ...problem, detail, errors: lines.length === 1 ? [] : lines };
}

export function uploadCodes(reward, close) {
  const file = h("input", { type: "file", name: "codes_file", accept: ".csv,.txt,text/csv,text/plain",
    required: true });
  const progress = h("progress", { max: 1, value: 0, hidden: true, "aria-label": "Upload progress" });
  const progressText = h("p", { class: "progress-text", "aria-live": "polite" });
  const result = h("div", {});
  const start = h("button", { type: "submit", class: "primary" }, "Upload");
  const form = h("form", { class: "card", novalidate: true, onsubmit: submit,
    "aria-labelledby": "upload-title" },
    h("h2", { id: "upload-title" }, `Upload codes to “${reward.name}”`),
    h("p", {}, "Available now: ", h("strong", { class: "available" }, num(reward.available_codes, "generated on claim")),
      ". A code already present, or repeated in the file, counts as a duplicate and is kept once."),
    field("Codes file", file, { hint: "A CSV file (code in the first column, an optional “code” header) or one code a line." }),
    progress, progressText, result,
    h("div", { class: "actions" }, start, h("button", { type: "button", onclick: close }, "Close")));

  async function submit(event) {
    event.preventDefault();
    // Taken before the first await: a second click or Enter while this one reads the file
    // finds the upload busy (a double click used to send the whole file twice).
    if (start.disabled) return;
    fill(result);
    progress.hidden = true;
    progress.value = 0;
    progressText.textContent = "";
    if (busy) {
      fill(result, notice("error", `${state.text}. Upload this file when it has finished.`));
      return;
    }
    if (!file.files.length) {
      fill(result, notice("error", "Choose a file of codes first."));
      file.focus();
      return;
    }
    busy = true;
    start.disabled = true;
    window.addEventListener("beforeunload", askBeforeLeaving);
    try {
      await send(parseCodes(await file.files[0].text()));
    } finally {
      busy = false;
      start.disabled = false;
      window.removeEventListener("beforeunload", askBeforeLeaving);
      // The form shows the outcome while it is open; closed, the header keeps it in view.
      if (form.isConnected || !state) announce(null);
      else announce({ ...state, running: false, dismissable: true });
      uploadActivity.dispatchEvent(new CustomEvent("finished", { detail: reward.id }));
    }
  }

  async function send(codes) {
    if (!codes.length) {
      fill(result, notice("error", "The file holds no codes."));
      return;
    }
    progress.hidden = false;
    progress.max = codes.length;
    let added = 0;
    let duplicates = 0;
    let available = reward.available_codes;
    const say = (done) => {
      progress.value = done;
      progressText.textContent =
        `Uploaded ${num(done)} of ${num(codes.length)} codes (${pct(done, codes.length)})`;
      announce({ text: `Uploading codes to “${reward.name}”: ${num(done)} of ${num(codes.length)}`,
        running: true, dismissable: false });
    };
    say(0);
    for (let i = 0; i < codes.length; i += CHUNK) {
      const chunk = codes.slice(i, i + CHUNK);
      try {
        const answer = await api("POST", `/rewards/${reward.id}/codes`, {
          json: { codes: chunk.map((c) => c.code) },
        });
        added += answer.added;
        duplicates += answer.duplicates;
        available = answer.available_codes;
      } catch (error) {
        error.problem = inFileLines(error.problem || {}, chunk);
        const stopped = `Stopped after ${count(i, "code")}: ${num(added)} added, ${count(duplicates, "duplicate")}. `;
        fill(result, problemNotice(error),
          notice("info", stopped,
            "Fix the file and upload it again; codes already added count as duplicates."));
        // The chunks before the refused one went in: the stock says so.
        form.querySelector(".available").textContent = num(available, "generated on claim");
        state = { ...state, text: `The upload of codes to “${reward.name}” stopped after ` +
          `${count(i, "code")} (${num(added)} added): ${error.problem.detail}` };
        return;
      }
      say(Math.min(i + CHUNK, codes.length));
    }
    const done = `Added ${count(added, "code")}, ${count(duplicates, "duplicate")}. `;
    fill(result, notice("success", h("span", { class: "upload-result" }, done),
      `${count(available, "code")} available now.`));
    form.querySelector(".available").textContent = num(available, "generated on claim");
    state = { ...state,
      text: `Uploaded codes to “${reward.name}”: ${num(added)} added, ${count(duplicates, "duplicate")}.` };
  }
  return form;
}
