// Webhooks: endpoints with their recent deliveries and every attempt, retry a delivery,
// register an endpoint or rotate its secret (the secret is shown this once), disable/enable.

import { api } from "./api.js";
import {
  badge, clearErrors, confirmDialog, field, fill, h, notice, num, problemNotice,
  showFieldErrors, table, when, words,
} from "./ui.js";

export const EVENT_TYPES = [
  "reward.reward_claimed", "reward.claim_reversed", "reward.fulfillment_failed",
  "reward.inventory_low", "reward.inventory_exhausted", "campaign.completed",
];

export function render(main) {
  const status = h("div", {});
  const panel = h("div", {});
  const list = h("div", { "aria-live": "polite" });
  const addButton = h("button", { type: "button", class: "primary", onclick: openCreate },
    "Add endpoint");
  fill(main, h("div", { class: "page-head" }, h("h1", {}, "Webhooks"), addButton),
    status, panel, list);

  async function load() {
    fill(list, h("p", { class: "loading" }, "Loading endpoints…"));
    try {
      const page = await api("GET", "/webhook-endpoints", { query: { limit: 100 } });
      if (!page.webhook_endpoints.length) {
        fill(list, h("p", { class: "empty" },
          "No webhook endpoints yet. Add one to receive claims, reversals and stock warnings."));
        return;
      }
      fill(list, page.webhook_endpoints.map(endpointCard),
        page.next_cursor ? h("p", { class: "hint" }, "Showing the first 100 endpoints.") : null);
    } catch (error) {
      fill(list, problemNotice(error));
    }
  }

  function showSecret(title, endpoint) {
    fill(status, notice("success",
      h("p", {}, h("strong", {}, title)),
      h("p", {}, "Copy this signing secret now: it is not shown again."),
      h("p", { class: "secret" }, h("code", { class: "secret-value" }, endpoint.secret), " ",
        h("button", { type: "button", onclick: (e) => copy(endpoint.secret, e.target) }, "Copy"))));
    status.querySelector("button").focus();
  }

  function openCreate() {
    const url = h("input", { type: "url", name: "url", placeholder: "https://example.com/coffer-hooks" });
    const description = h("input", { type: "text", name: "description", maxlength: 500 });
    const all = h("input", { type: "checkbox", name: "all", checked: true });
    const boxes = EVENT_TYPES.map((type) => h("input", { type: "checkbox", name: "event_types", value: type }));
    const typeList = h("div", { class: "checks", hidden: true },
      boxes.map((box) => h("label", { class: "check" }, box, ` ${box.value}`)));
    all.addEventListener("change", () => { typeList.hidden = all.checked; });
    const alert = h("div", {});
    const add = h("button", { type: "submit", class: "primary" }, "Add endpoint");
    const cancel = () => {
      fill(panel);
      addButton.focus(); // not the body: the Cancel button that had focus is gone
    };
    const form = h("form", { class: "card", novalidate: true, onsubmit: submit, "aria-labelledby": "wh-new" },
      h("h2", { id: "wh-new" }, "Add a webhook endpoint"),
      field("URL", url, { name: "url", hint: "Coffer POSTs signed facts here (Standard Webhooks)." }),
      field("Description (optional)", description, { name: "description" }),
      h("fieldset", { class: "group", "data-field": "event_types" },
        h("legend", {}, "Events"),
        h("label", { class: "check" }, all, " Every event type (also ones added later)"),
        typeList,
        h("p", { class: "field-error", "data-error-for": "event_types", hidden: true })),
      alert,
      h("div", { class: "actions" }, add, h("button", { type: "button", onclick: cancel }, "Cancel")));

    async function submit(event) {
      event.preventDefault();
      // Disabled before the request: a double click used to register the endpoint twice.
      if (add.disabled) return;
      add.disabled = true;
      clearErrors(form);
      fill(alert);
      const json = { url: url.value.trim() };
      if (description.value.trim()) json.description = description.value.trim();
      json.event_types = all.checked ? ["*"] : boxes.filter((b) => b.checked).map((b) => b.value);
      try {
        const created = await api("POST", "/webhook-endpoints", { json });
        fill(panel);
        showSecret(`Added ${created.url}.`, created);
        load();
      } catch (error) {
        fill(alert, problemNotice(error, showFieldErrors(form, error.problem || {},
          (f) => f.replace(/^event_types\.\d+$/, "event_types"))));
      } finally {
        add.disabled = false;
      }
    }
    fill(status);
    fill(panel, form);
    url.focus();
  }

  function endpointCard(endpoint) {
    const deliveries = h("div", { class: "deliveries" });
    const toggle = h("button", { type: "button", "aria-expanded": "false" }, "Show deliveries");
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", String(!open));
      toggle.textContent = open ? "Show deliveries" : "Hide deliveries";
      if (open) fill(deliveries);
      else showDeliveries(endpoint, deliveries);
    });
    return h("article", { class: "card endpoint", "data-endpoint-id": endpoint.id },
      h("h2", { class: "url" }, endpoint.url),
      h("p", {},
        endpoint.enabled ? badge("Enabled", "ok") : badge("Disabled", "danger"), " ",
        h("code", { class: "id" }, endpoint.id), " · added ", when(endpoint.created_at)),
      endpoint.disabled_reason ? h("p", { class: "hint" }, `Disabled: ${endpoint.disabled_reason}`) : null,
      endpoint.description ? h("p", {}, endpoint.description) : null,
      h("p", { class: "hint" }, "Events: ", endpoint.event_types.includes("*") ? "every type"
        : endpoint.event_types.join(", ")),
      h("div", { class: "actions" },
        toggle,
        h("button", { type: "button",
          onclick: (e) => setEnabled(endpoint, !endpoint.enabled, e.currentTarget) },
        endpoint.enabled ? "Disable" : "Enable"),
        h("button", { type: "button", onclick: () => rotate(endpoint) }, "Rotate secret"),
        h("button", { type: "button", class: "danger", onclick: () => remove(endpoint) }, "Delete")),
      deliveries);
  }

  async function setEnabled(endpoint, enabled, button) {
    button.disabled = true;
    try {
      await api("PATCH", `/webhook-endpoints/${endpoint.id}`, { json: { enabled } });
      fill(status, notice("success", `${enabled ? "Enabled" : "Disabled"} ${endpoint.url}.`));
      load();
    } catch (error) {
      button.disabled = false;
      fill(status, problemNotice(error));
    }
  }

  async function rotate(endpoint) {
    const yes = await confirmDialog({
      title: "Rotate the signing secret?",
      body: h("p", {}, "A new secret is made and shown once. For 24 hours deliveries are signed ",
        "with both the old and the new one, so your receiver can switch without missing any."),
      confirm: "Rotate secret",
    });
    if (!yes) return;
    try {
      const rotated = await api("POST", `/webhook-endpoints/${endpoint.id}/rotate-secret`);
      showSecret(`New secret for ${endpoint.url}.`, rotated);
    } catch (error) {
      fill(status, problemNotice(error));
    }
  }

  async function remove(endpoint) {
    const yes = await confirmDialog({
      title: `Delete ${endpoint.url}?`,
      body: h("p", {}, "Nothing more is delivered to it. Deliveries still pending fail now, " +
        "and so does the fulfillment of the claims they carry (reversed where the reward " +
        "says so). Past deliveries stay on record."),
      confirm: "Delete endpoint", danger: true,
    });
    if (!yes) return;
    try {
      await api("DELETE", `/webhook-endpoints/${endpoint.id}`);
      fill(status, notice("success", `Deleted ${endpoint.url}.`));
      load();
    } catch (error) {
      fill(status, problemNotice(error));
    }
  }

  async function showDeliveries(endpoint, into, cursor = null) {
    if (!cursor) fill(into, h("p", { class: "loading" }, "Loading deliveries…"));
    try {
      const page = await api("GET", `/webhook-endpoints/${endpoint.id}/deliveries`,
        { query: { limit: 20, cursor } });
      const rows = page.deliveries.map((d) => deliveryRow(d, () => showDeliveries(endpoint, into)));
      const more = page.next_cursor ? h("button", { type: "button", class: "more",
        onclick: (e) => { e.target.remove(); showDeliveries(endpoint, into, page.next_cursor); } },
      "Older deliveries") : null;
      if (cursor) {
        into.querySelector("tbody").append(...rows);
        if (more) into.append(more);
        return;
      }
      fill(into,
        h("div", { class: "actions" }, h("button", { type: "button",
          onclick: () => showDeliveries(endpoint, into) }, "Refresh")),
        table(`Deliveries to ${endpoint.url}`, ["Event", "Status", "Attempts", "Next attempt", "Actions"],
          rows, "No deliveries yet."),
        more);
    } catch (error) {
      fill(into, problemNotice(error));
    }
  }

  function deliveryRow(delivery, refresh) {
    const kind = { delivered: "ok", pending: "info", failed: "danger" }[delivery.status];
    const result = h("div", { "aria-live": "polite" });
    const retry = async (event) => {
      event.target.disabled = true;
      try {
        await api("POST", `/webhook-deliveries/${delivery.id}/retry`);
        fill(result, notice("success", "Sent again."));
        setTimeout(refresh, 1000); // the worker sends it at once; show its attempt
      } catch (error) {
        event.target.disabled = false;
        fill(result, problemNotice(error));
      }
    };
    return h("tr", { "data-delivery-id": delivery.id, "data-status": delivery.status },
      h("td", {}, words(delivery.event_type), h("br"), h("code", { class: "id" }, delivery.event_id)),
      h("td", {}, badge(words(delivery.status), kind)),
      h("td", {}, delivery.attempts.length ? h("ol", { class: "attempts" }, delivery.attempts.map((a) =>
        h("li", {}, when(a.attempted_at), " — ",
          a.status_code ? `HTTP ${a.status_code}` : "no answer",
          // A non-2xx answer's error is "HTTP 500" itself: say it once.
          a.error && a.error !== `HTTP ${a.status_code}` ? ` (${a.error})` : "",
          `, ${num(a.duration_ms)} ms`))) : "None yet"),
      h("td", {}, when(delivery.next_attempt_at)),
      h("td", { class: "actions" }, delivery.status === "delivered" ? null
        : h("button", { type: "button", onclick: retry }, "Retry now"), result));
  }

  load();
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    // No clipboard without HTTPS: select the text so Ctrl+C copies it.
    const range = document.createRange();
    range.selectNodeContents(button.previousElementSibling || button);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    button.textContent = "Selected: press Ctrl+C";
  }
}
