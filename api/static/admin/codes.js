// Upload codes from a file (CSV with the code in the first column, or one code a line), in
// chunks so a progress bar can follow; the API counts added and duplicate codes per chunk.

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

export function uploadCodes(reward, close, changed) {
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
    fill(result);
    if (!file.files.length) {
      fill(result, notice("error", "Choose a file of codes first."));
      file.focus();
      return;
    }
    const codes = parseCodes(await file.files[0].text());
    if (!codes.length) {
      fill(result, notice("error", "The file holds no codes."));
      return;
    }
    start.disabled = true;
    progress.hidden = false;
    progress.max = codes.length;
    progress.value = 0;
    let added = 0;
    let duplicates = 0;
    let available = reward.available_codes;
    const say = (done) => {
      progress.value = done;
      progressText.textContent =
        `Uploaded ${num(done)} of ${num(codes.length)} codes (${pct(done, codes.length)})`;
    };
    say(0);
    try {
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
          // `codes.N` names the Nth code of this chunk: say which line of the file it is.
          const problem = error.problem || {};
          const errors = (problem.errors || []).map((e) => {
            const match = /^codes\.(\d+)$/.exec(e.field);
            return match && chunk[Number(match[1])]
              ? { field: `line ${chunk[Number(match[1])].line}`, message: e.message } : e;
          });
          error.problem = { ...problem, errors };
          fill(result, problemNotice(error),
            notice("info", `Stopped after ${count(i, "code")}: ${num(added)} added, ${count(duplicates, "duplicate")}. `,
              "Fix the file and upload it again; codes already added count as duplicates."));
          return;
        }
        say(Math.min(i + CHUNK, codes.length));
      }
      fill(result, notice("success",
        h("span", { class: "upload-result" }, `Added ${count(added, "code")}, ${count(duplicates, "duplicate")}. `),
        `${count(available, "code")} available now.`));
      form.querySelector(".available").textContent = num(available);
    } finally {
      start.disabled = false;
      changed();
    }
  }
  return form;
}
