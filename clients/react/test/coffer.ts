/** Test helpers that talk to the real Coffer the globalSetup started. */
import { inject } from "vitest";

export const coffer = inject("coffer");
const API = `${coffer.baseUrl}/api/v1/gamify`;

export function newId(prefix = "user"): string {
  return `${prefix}_${crypto.randomUUID().slice(0, 12)}`;
}

async function call(method: string, path: string, key: string, body?: unknown, headers = {}) {
  const response = await fetch(`${API}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A free reward that generates its codes, so claims never run out. */
export async function createFreeReward(name = "Free Shipping"): Promise<string> {
  const entry = await call("POST", "/rewards", coffer.adminKey, {
    name,
    type: "voucher",
    max_claims_per_user: 100,
    code_generation: { prefix: "GIFT-", length: 8 },
  });
  return entry.id;
}

/** Claims through the server key as a storefront backend would (Pattern 1). */
export async function claim(rewardId: string, participantId: string) {
  return call(
    "POST",
    `/rewards/${rewardId}/claim`,
    coffer.serverKey,
    { participant_id: participantId, points_deduction: true },
    { "Idempotency-Key": newId("order") },
  );
}

/** A participant token for `participantId`, as a storefront backend issues it (CONTRACT §10). */
export async function issueToken(participantId: string, ttlSeconds = 3600) {
  return call(
    "POST",
    `/participants/${encodeURIComponent(participantId)}/tokens`,
    coffer.serverKey,
    { ttl_seconds: ttlSeconds },
  ) as Promise<{ token: string; expires_at: string }>;
}

interface Call {
  url: string;
  signal: AbortSignal | null | undefined;
  settled: Promise<Response>;
}

/**
 * The real fetch, counted: which URLs were asked for, with which signal, and
 * how each ended. `delayMs` holds each request back first, as a slow network would.
 */
export function countingFetch({ delayMs = 0 } = {}) {
  const calls: Call[] = [];
  const wrapped: typeof fetch = (input, init) => {
    const settled = (async () => {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      return fetch(input, init);
    })();
    settled.catch(() => undefined); // observed by the test that cares
    calls.push({ url: String(input), signal: init?.signal, settled });
    return settled;
  };
  return { fetch: wrapped, calls };
}
