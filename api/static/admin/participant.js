// Participant: look one up by id, their points (balance + ledger) and claims (with
// fulfillment status), credit points, and reverse a claim (restock choice, confirmation).
// An admin key's claim records carry status and fulfillment_status (docs/api-extensions.md),
// so the page reads a participant in two calls however many claims they hold.

import { api } from "./api.js";
import {
  badge, clearErrors, confirmDialog, count, field, fill, h, intOrText, newKey, notice, num,
  problemNotice, showFieldErrors, table, when, words,
} from "./ui.js";

const KIND = { credit: "Credit", claim_debit: "Claim", reversal_refund: "Reversal refund" };

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
      // The list shows reversed claims too; the count is of held claims, which only the
      // list without reversed ones totals (its own list is past 1,000 claims incomplete).
      const [points, rewards, held] = await Promise.all([
        api("GET", `${path()}/points`),
        api("GET", `${path()}/rewards`, { query: { include: "reversed" } }),
        api("GET", `${path()}/rewards`),
      ]);
      fill(body, summary(points, held.total_claimed), claims(rewards), ledger(points));
    } catch (error) {
      fill(body, problemNotice(error));
    }
  }

  function summary(points, heldClaims) {
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
        fill(status, notice("success", `Credited ${count(json.amount, "point")}. New balance: ${num(answer.balance)}.`));
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
        h("p", { class: "held" }, `${count(heldClaims, "reward")} held`)),
      form);
  }

  function claims(rewards) {
    const rows = rewards.rewards.map((claim) => {
      const reversed = claim.status === "reversed";
      return h("tr", { "data-claim-id": claim.claim_id },
        h("td", {}, h("strong", {}, claim.reward_name), h("br"), h("span", { class: "hint" }, words(claim.reward_type))),
        h("td", {}, h("code", {}, claim.code_value)),
        h("td", {}, when(claim.claimed_at)),
        h("td", {}, reversed ? badge("Reversed", "muted") : badge("Succeeded", "ok")),
        h("td", {}, claim.fulfillment_status ? fulfillment(claim.fulfillment_status) : "—"),
        h("td", { class: "actions" }, reversed ? null
          : h("button", { type: "button", class: "danger",
            onclick: (e) => reverse(claim, e.currentTarget) }, "Reverse")));
    });
    const more = rewards.total_claimed > rewards.rewards.length
      ? h("p", { class: "hint" }, `The newest ${num(rewards.rewards.length)} claims are shown.`)
      : null;
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

  // The button stays disabled from the click until the dialog is answered: a double click
  // would otherwise read the claim twice and open a second dialog over the first.
  async function reverse(claim, button) {
    button.disabled = true;
    try {
      await reverseClaim(claim);
    } finally {
      button.disabled = false;
    }
  }

  async function reverseClaim(claim) {
    const restock = h("input", { type: "checkbox", name: "restock", checked: true });
    const reason = h("input", { type: "text", name: "reason", maxlength: 500 });
    // The refund is the claim's points_deducted: one read, for the one claim being reversed.
    let detail;
    try {
      detail = await api("GET", `/claims/${claim.claim_id}`);
    } catch (error) {
      fill(status, problemNotice(error));
      return;
    }
    const refund = detail.points_deducted;
    const yes = await confirmDialog({
      title: `Reverse the claim of “${claim.reward_name}”?`,
      body: h("div", {},
        h("p", {}, refund ? `${count(refund, "point")} go back to ${participantId}. ` : "No points were deducted. ",
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
          ? `Code returned to stock: “${reward.name}” now has ${count(reward.available_codes, "available code")}.`
          : "Code returned to stock.";
      fill(status, notice("success", h("span", { class: "reversal-result" },
        `Claim reversed: ${count(done.reversal.points_refunded, "point")} refunded. ${stockText}`)));
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
