// Campaigns: gift a reward to a list of participants from a file, follow its progress and
// failures by code live, cancel it, and download its results as CSV (every page of results).

import { allPages, api } from "./api.js";
import {
  badge, clearErrors, confirmDialog, count, download, field, fill, h, newKey, notice, num, pct,
  problemNotice, showFieldErrors, table, when, words,
} from "./ui.js";

const POLL_MS = 1000;

export function render(main, campaignId) {
  return campaignId ? detail(main, campaignId) : overview(main);
}

function statusBadge(status) {
  return badge(words(status), { running: "info", completed: "ok", cancelled: "muted" }[status]);
}

function overview(main) {
  const status = h("div", {});
  const list = h("div", { "aria-live": "polite" });
  const form = startForm(status);
  fill(main, h("h1", {}, "Campaigns"), status, form, h("h2", {}, "Recent campaigns"), list);
  let timer = null;

  async function load() {
    try {
      const page = await api("GET", "/campaigns", { query: { limit: 50 } });
      const rows = page.campaigns.map((c) => h("tr", { "data-campaign-id": c.campaign_id },
        h("td", {}, h("a", { href: `#/campaigns/${c.campaign_id}` }, c.name || c.campaign_id)),
        h("td", {}, statusBadge(c.status)),
        h("td", { class: "num" }, `${num(c.succeeded + c.failed)} of ${num(c.total)}`),
        h("td", { class: "num" }, num(c.succeeded)),
        h("td", { class: "num" }, num(c.failed)),
        h("td", {}, when(c.created_at))));
      fill(list, table("Campaigns", ["Campaign", "Status", "Decided", "Succeeded", "Failed", "Started"],
        rows, "No campaigns yet: start one above."));
      if (page.campaigns.some((c) => c.status === "running")) timer = setTimeout(load, POLL_MS * 3);
    } catch (error) {
      fill(list, problemNotice(error));
    }
  }
  load();
  return () => clearTimeout(timer);
}

function startForm(status) {
  const reward = h("select", { name: "reward_id" }, h("option", { value: "" }, "Loading rewards…"));
  const name = h("input", { type: "text", name: "name", maxlength: 200 });
  const deduct = h("input", { type: "checkbox", name: "points_deduction" });
  const header = h("input", { type: "checkbox", name: "header" });
  const file = h("input", { type: "file", name: "file", accept: ".csv,.txt,text/csv,text/plain" });
  const alert = h("div", {});
  const button = h("button", { type: "submit", class: "primary" }, "Start campaign");
  let key = newKey("campaign"); // one campaign per file chosen, even if Start is pressed twice
  for (const el of [reward, name, deduct, header, file]) {
    el.addEventListener("change", () => { key = newKey("campaign"); });
  }
  const form = h("form", { class: "card", novalidate: true, onsubmit: submit, "aria-labelledby": "cmp-new" },
    h("h2", { id: "cmp-new" }, "Gift a reward to a list"),
    h("div", { class: "row" },
      field("Reward", reward, { name: "reward_id" }),
      field("Campaign name (optional)", name, { name: "name" })),
    field("Participants file", file, { name: "file",
      hint: "One participant id a line (a CSV of one column). Blank lines and repeats are ignored; up to 1,000,000 ids." }),
    h("label", { class: "check" }, header, " The first line is a header"),
    h("label", { class: "check" }, deduct, " Deduct each participant's points for the reward"),
    alert,
    h("div", { class: "actions" }, button));

  api("GET", "/rewards", { query: { limit: 200 } }).then((page) => {
    fill(reward, h("option", { value: "" }, page.rewards.length ? "Choose a reward" : "No active rewards"),
      page.rewards.map((r) => h("option", { value: r.id }, r.available_codes === null
        ? `${r.name} (codes generated)` : `${r.name} (${count(r.available_codes, "code")} available)`)));
  }, (error) => fill(alert, problemNotice(error)));

  async function submit(event) {
    event.preventDefault();
    clearErrors(form);
    fill(alert);
    if (!file.files.length) {
      fill(alert, notice("error", "Choose a file of participant ids."));
      file.focus();
      return;
    }
    button.disabled = true;
    try {
      // The file goes as it is (text/csv), streamed by the browser: no parsing here, the API
      // checks every id and names the line of a bad one.
      const created = await api("POST", "/campaigns", {
        query: { reward_id: reward.value, name: name.value.trim(), points_deduction: deduct.checked ? "true" : "" },
        body: file.files[0],
        contentType: `text/csv; header=${header.checked ? "present" : "absent"}`,
        idempotencyKey: key,
      });
      location.hash = `#/campaigns/${created.campaign_id}`;
    } catch (error) {
      fill(alert, problemNotice(error, showFieldErrors(form, error.problem || {})));
    } finally {
      button.disabled = false;
    }
  }
  return form;
}

function detail(main, id) {
  const status = h("div", {});
  const body = h("div", {});
  fill(main, h("p", {}, h("a", { href: "#/campaigns" }, "← All campaigns")), status, body);
  let timer = null;
  let stopped = false;
  const progress = h("progress", { max: 1, value: 0, "aria-labelledby": "cmp-progress" });

  async function load() {
    try {
      const c = await api("GET", `/campaigns/${encodeURIComponent(id)}`);
      if (stopped) return;
      show(c);
      if (c.status === "running") timer = setTimeout(load, POLL_MS);
    } catch (error) {
      fill(status, problemNotice(error));
      if (!stopped && error.status !== 404) timer = setTimeout(load, POLL_MS * 5);
    }
  }

  function show(c) {
    const decided = c.succeeded + c.failed;
    progress.max = Math.max(c.total, 1);
    progress.value = c.total ? decided : 1;
    const failures = Object.entries(c.failures_by_code).sort((a, b) => b[1] - a[1])
      .map(([code, count]) => h("tr", {}, h("td", {}, h("code", {}, code)), h("td", { class: "num" }, num(count))));
    const reward = h("a", { href: `#/catalog/${c.reward_id}` }, c.reward_id);
    fill(body,
      h("div", { class: "page-head" },
        h("h1", {}, c.name || "Campaign"),
        h("span", { class: "campaign-status", "data-status": c.status }, statusBadge(c.status))),
      h("p", { class: "hint" }, h("code", {}, c.campaign_id), " · reward ", reward, " · started ",
        when(c.created_at), c.completed_at ? [" · finished ", when(c.completed_at)] : null),
      h("section", { class: "card" },
        h("p", { id: "cmp-progress", class: "progress-text" },
          `${num(decided)} of ${num(c.total)} participants decided (${pct(decided, c.total)})`),
        progress,
        h("dl", { class: "counts" },
          h("div", {}, h("dt", {}, "Succeeded"), h("dd", { class: "succeeded" }, num(c.succeeded))),
          h("div", {}, h("dt", {}, "Failed"), h("dd", { class: "failed" }, num(c.failed))),
          h("div", {}, h("dt", {}, "Pending"), h("dd", { class: "pending" }, num(c.pending))),
          h("div", {}, h("dt", {}, "Total"), h("dd", { class: "total" }, num(c.total)))),
        h("h2", {}, "Failures by code"),
        table("Failures by code", ["Error code", "Participants"], failures, "No failures."),
        h("div", { class: "actions" },
          h("button", { type: "button", class: "primary", onclick: (e) => results(c, e.target) },
            "Download results (CSV)"),
          c.status === "running"
            ? h("button", { type: "button", class: "danger", onclick: () => cancel(c) }, "Cancel campaign")
            : null)));
  }

  async function cancel(c) {
    const yes = await confirmDialog({
      title: "Cancel this campaign?",
      body: h("p", {}, "Participants not decided yet end failed with campaign_cancelled; ",
        "those already gifted keep their reward."),
      confirm: "Cancel campaign", danger: true,
    });
    if (!yes) return;
    try {
      clearTimeout(timer);
      show(await api("POST", `/campaigns/${c.campaign_id}/cancel`));
      fill(status, notice("success", "Campaign cancelled."));
    } catch (error) {
      fill(status, problemNotice(error));
      load();
    }
  }

  async function results(c, button) {
    button.disabled = true;
    fill(status, notice("info", "Fetching results…"));
    try {
      const rows = await allPages(`/campaigns/${c.campaign_id}/results`, "results", { limit: 1000 },
        (_, soFar) => fill(status, notice("info", `Fetched ${num(soFar)} of ${num(c.total)} results…`)));
      const lines = ["participant_id,status,claim_id,code_value,error_code",
        ...rows.map((r) => [r.participant_id, r.status, r.claim_id, r.code_value, r.error_code]
          .map(csvCell).join(","))];
      download(`${c.campaign_id}-results.csv`, `${lines.join("\r\n")}\r\n`);
      fill(status, notice("success", `Downloaded ${num(rows.length)} results.`));
    } catch (error) {
      fill(status, problemNotice(error));
    } finally {
      button.disabled = false;
    }
  }

  load();
  return () => { stopped = true; clearTimeout(timer); };
}

/**
 * One CSV cell: RFC 4180 quoting, null as an empty cell, and OWASP's CSV-injection guard: a
 * value starting with = + - @ tab or carriage return gets a leading apostrophe, so a
 * spreadsheet shows it as text instead of running it as a formula (docs/dashboard.md).
 */
export function csvCell(value) {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
