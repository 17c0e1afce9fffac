// The only way the dashboard talks to Coffer: the public API with the admin key from this
// browser tab's sessionStorage (never a cookie, never localStorage), so it can do nothing
// the key cannot do with curl. Errors arrive as RFC 9457 problems and are thrown as ApiError.

const STORAGE = "coffer.admin-key";
export const BASE = "/api/v1/gamify";

export const session = {
  get key() {
    return sessionStorage.getItem(STORAGE);
  },
  save(key) {
    sessionStorage.setItem(STORAGE, key);
  },
  clear() {
    sessionStorage.removeItem(STORAGE);
  },
  /** "live" or "test", from the key's prefix (ck_live_ / ck_test_). */
  get mode() {
    const key = this.key || "";
    return key.startsWith("ck_test_") ? "test" : "live";
  },
};

export class ApiError extends Error {
  /** `problem` is the problem+json body, or one made up for a non-JSON answer. */
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.code = problem.code || null;
  }
}

/** Called when a stored key stops working (401): the app signs out and says why. */
let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/**
 * fetch() one endpoint. Options: query (object; empty values left out), json (a body),
 * body + contentType (a raw body, e.g. a File), idempotencyKey, key (instead of the session's).
 * Returns the parsed JSON (null for 204); throws ApiError with the problem otherwise.
 */
export async function api(method, path, options = {}) {
  const { query, json, body, contentType, idempotencyKey, key } = options;
  const url = new URL(BASE + path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Authorization: `Bearer ${key ?? session.key}`, Accept: "application/json" };
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let payload = body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  } else if (contentType) {
    headers["Content-Type"] = contentType;
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload, credentials: "omit" });
  } catch (error) {
    throw new ApiError(0, {
      code: "network_error",
      detail: `Coffer could not be reached (${error.message}). Check the connection and try again.`,
    });
  }
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (response.ok) return data;
  const problem = data && data.detail ? data : {
    status: response.status,
    detail: `Coffer answered ${response.status} ${response.statusText || ""}`.trim() + ".",
  };
  if (response.status === 429 && response.headers.get("Retry-After")) {
    problem.detail += ` Try again in ${response.headers.get("Retry-After")} s.`;
  }
  const failure = new ApiError(response.status, problem);
  if (response.status === 401 && key === undefined) onUnauthorized(failure);
  throw failure;
}

/** Every page of a cursor-paged list, `onPage(items, soFar)` after each (for progress). */
export async function allPages(path, listName, query, onPage, cursorName = "cursor") {
  const items = [];
  let cursor = null;
  do {
    const page = await api("GET", path, { query: { ...query, [cursorName]: cursor } });
    items.push(...page[listName]);
    if (onPage) onPage(page[listName], items.length);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}
