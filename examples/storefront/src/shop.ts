/** Calls to the storefront's own backend (storefront.py); it holds the Coffer server key. */
import type { ParticipantToken } from "@coffer/react";

export interface Eligibility {
  eligible: boolean;
  /** The error code a claim would get now (CONTRACT §4), or null. */
  reason: string | null;
  claims_held: number;
}

export interface CatalogEntry {
  id: string;
  name: string;
  type: string;
  description: string | null;
  /** null = a free reward */
  points_cost: number | null;
  available_codes: number | null;
  max_claims_per_user: number;
  low_stock_threshold: number | null;
  eligibility: Eligibility;
}

export interface Catalog {
  balance: number;
  rewards: CatalogEntry[];
}

export interface Session {
  participant_id: string;
  coffer_url: string;
}

export type Redeemed =
  | { ok: true; claim_id: string; reward_name: string; code: string; points_deducted: number; new_balance: number }
  | { ok: false; reason: string; message: string };

async function json<T>(response: Response): Promise<T> {
  if (!response.ok && response.status !== 409) {
    throw new Error(`the shop answered HTTP ${response.status}`);
  }
  return (await response.json()) as T;
}

export const shop = {
  session: () => fetch("/api/session").then((r) => json<Session>(r)),
  catalog: () => fetch("/api/catalog").then((r) => json<Catalog>(r)),
  /** getToken for @coffer/react: the backend asks Coffer for a participant token. */
  token: () => fetch("/api/tokens", { method: "POST" }).then((r) => json<ParticipantToken>(r)),
  /** Redeem under an order id; retrying with the same id can only replay the first claim. */
  redeem: (orderId: string, rewardId: string) =>
    fetch(`/api/orders/${orderId}/redeem`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ reward_id: rewardId }),
    }).then((r) => json<Redeemed>(r)),
};
