// Participant: look one up by id, their points (balance + ledger) and claims (with
// fulfillment status), credit points, and reverse a claim (restock choice, confirmation).

import { api } from "./api.js";
import {
  badge, clearErrors, confirmDialog, field, fill, h, intOrText, newKey, notice, num,
  problemNotice, showFieldErrors, table, when, words,
} from "./ui.js";

const KIND = { credit: "Credit", claim_debit: "Claim", reversal_refund: "Reversal refund" };
const SHOWN_CLAIMS = 50; // claims whose fulfillment status is read one by one

export function render(main, participantId) {
  const input = h("input", { type: "text", name: "participant_id", value: participantId || "",
    autocomplete: "off", spellcheck: "false" });
  const status = h("div", {});
  const body = h("div", { "aria-live": "polite" });
  fill(main,
    h("h1", {}, "Participant"),
    h("form", { class: "toolbar", onsubmit: lookUp },
      field("Participant id", input, { hint: "Your own id for the person, as your backend sends it." }),
      h("button", { type: "submit", class: "primary" }, "Look up")),
    status,
    body);

  function lookUp(event) {
    event.preventDefault();
    const id = input.value.trim();
    if (!id) {
      fill(status, notice("error", "Enter a participant id."));
      input.focus();
      return;
    }
    location.hash = `#/participant/${encodeURIComponent(id)}`; // re-renders with the id
  }

  const path = () => `/participants/${encodeURIComponent(participantId)}`;

  async function load() {
    fill(body, h("p", { class: "loading" }, "Loading…"));
    try {
      const [points, rewards] = await Promise.all([
        api("GET", `${path()}/points`),
        api("GET", `${path()}/rewards`, { query: { include: "reversed" } }),
      ]);
      const details = await Promise.all(rewards.rewards.slice(0, SHOWN_CLAIMS).map((claim) =>
        api("GET", `/claims/${claim.claim_id}`).catch(() => null)));
      fill(body, summary(points, rewards), claims(rewards, details), ledger(points));
    } catch (error) {
      fill(body, problemNotice(error));
    }
  }

  function summary(points, rewards) {
    const amount = h("input", { type: "text", inputmode: "numeric", name: "amount" });
    const reason = h("input", { type: "text", name: "reason", maxlength: 500 });
    const alert = h("div", {});
    const button = h("button", { type: "submit", class: "primary" }, "Credit points");
    let key = newKey("credit"); // kept while the same credit is retried, so it lands once
    const form = h("form", { class: "card", novalidate: true, onsubmit: credit,
      "aria-labelledby": "credit-title" },
      h("h2", { id: "credit-title" }, "Credit points"),
      h("div", { class: "row" },
        field("Points", amount, { name: "amount", hint: "A whole number, 1 or more" }),
        field("Reason (optional)", reason, { name: "reason" })),
      alert,
      h("div", { class: "actions" }, button));
    for (const el of [amount, reason]) el.addEventListener("input", () => { key = newKey("credit"); });

    async function credit(event) {
      event.preventDefault();
      clearErrors(form);
      fill(alert);
      button.disabled = true;
      try {
        const json = { amount: intOrText(amount.value) };
        if (reason.value.trim()) json.reason = reason.value.trim();
        const answer = await api("POST", `${path()}/points`, { json, idempotencyKey: key });
        key = newKey("credit");
        fill(status, notice("success", `Credited ${num(json.amount)} points. New balance: ${num(answer.balance)}.`));
        load();
      } catch (error) {
        fill(alert, problemNotice(error, showFieldErrors(form, error.problem || {})));
      } finally {
        button.disabled = false;
      }
    }

    return h("section", { class: "summary", "aria-label": "Balance" },
      h("div", { class: "card stat" },
        h("h2", {}, participantId),
        h("p", { class: "big" }, h("span", { class: "balance" }, num(points.balance)), " points"),
        h("p", {}, `${num(rewards.total_claimed)} reward${rewards.total_claimed === 1 ? "" : "s"} held`)),
      form);
  }

  function claims(rewards, details) {
    const rows = rewards.rewards.map((claim, index) => {
      const detail = details[index];
      const reversed = claim.status === "reversed";
      return h("tr", { "data-claim-id": claim.claim_id },
        h("td", {}, h("strong", {}, claim.reward_name), h("br"), h("span", { class: "hint" }, words(claim.reward_type))),
        h("td", {}, h("code", {}, claim.code_value)),
        h("td", {}, when(claim.claimed_at)),
        h("td", {}, reversed ? badge("Reversed", "muted") : badge("Succeeded", "ok")),
        h("td", {}, detail ? fulfillment(detail.fulfillment_status) : "—"),
        h("td", { class: "actions" }, reversed ? null
          : h("button", { type: "button", class: "danger", onclick: () => reverse(claim, detail) },
            "Reverse")));
    });
    const more = rewards.rewards.length > SHOWN_CLAIMS
      ? h("p", { class: "hint" }, `Fulfillment status shown for the newest ${SHOWN_CLAIMS} claims.`) : null;
    return h("section", { "aria-labelledby": "claims-title" },
      h("h2", { id: "claims-title" }, "Claims"),
      table("Claims", ["Reward", "Code", "Claimed", "Status", "Fulfillment", "Actions"], rows,
        "No claims yet."),
      more);
  }

  function ledger(points) {
    const rows = points.entries.map((entry) => h("tr", {},
      h("td", {}, when(entry.created_at)),
      h("td", {}, KIND[entry.kind] || words(entry.kind)),
      h("td", { class: `num ${entry.amount < 0 ? "minus" : "plus"}` },
        `${entry.amount > 0 ? "+" : ""}${num(entry.amount)}`),
      h("td", { class: "num" }, num(entry.balance_after)),
      h("td", {}, entry.reason || (entry.claim_id ? h("code", {}, entry.claim_id) : ""))));
    return h("section", { "aria-labelledby": "ledger-title" },
      h("h2", { id: "ledger-title" }, "Points ledger"),
      table("Points ledger", ["When", "Kind", "Points", "Balance after", "Reason or claim"], rows,
        "No points yet: credit some above."));
  }

  async function reverse(claim, detail) {
    const restock = h("input", { type: "checkbox", name: "restock", checked: true });
    const reason = h("input", { type: "text", name: "reason", maxlength: 500 });
    const refund = detail ? detail.points_deducted : 0;
    const yes = await confirmDialog({
      title: `Reverse the claim of “${claim.reward_name}”?`,
      body: h("div", {},
        h("p", {}, refund ? `${num(refund)} points go back to ${participantId}. ` : "No points were deducted. ",
          "This cannot be undone."),
        h("label", { class: "check" }, restock, ` Return code ${claim.code_value} to the inventory (restock)`),
        field("Reason (optional)", reason)),
      confirm: "Reverse claim", danger: true,
    });
    if (!yes) return;
    try {
      const json = { restock: restock.checked };
      if (reason.value.trim()) json.reason = reason.value.trim();
      const done = await api("POST", `/claims/${claim.claim_id}/reverse`, {
        json, idempotencyKey: `dashboard:reverse:${claim.claim_id}`,
      });
      const reward = await api("GET", `/rewards/${claim.reward_id}`).catch(() => null);
      const stockText = !done.reversal.restocked ? "The code was not restocked."
        : reward && reward.available_codes !== null
          ? `Code returned to stock: “${reward.name}” now has ${num(reward.available_codes)} available codes.`
          : "Code returned to stock.";
      fill(status, notice("success", h("span", { class: "reversal-result" },
        `Claim reversed: ${num(done.reversal.points_refunded)} points refunded. ${stockText}`)));
      load();
    } catch (error) {
      fill(status, problemNotice(error));
    }
  }

  if (participantId) load();
  else fill(body, h("p", { class: "empty" }, "Look up a participant to see their points and claims."));
}

function fulfillment(status) {
  const kind = { not_required: "muted", pending: "info", fulfilled: "ok", failed: "danger" }[status];
  return badge(status === "not_required" ? "Not required" : words(status), kind);
}
