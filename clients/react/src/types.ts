/**
 * Wire shapes of the Coffer API as the hook returns them: snake_case members,
 * exactly as `GET /participants/{pid}/rewards` sends them (CONTRACT §6, §10).
 */

/** The reward types a catalog entry and a claim carry (CONTRACT §4). */
export type RewardType = "coupon" | "voucher" | "physical" | "digital" | "points_multiplier";

/** One claim the participant holds, newest first in the list. */
export interface ClaimedReward {
  claim_id: string;
  reward_id: string;
  reward_name: string;
  reward_type: RewardType;
  /** The code handed out: a coupon code, an order reference, an access key. */
  code_value: string;
  /** RFC 3339 UTC, e.g. `2026-05-24T11:42:00Z`. */
  claimed_at: string;
  /** When the code stops being usable; `null` when it does not expire. */
  expires_at: string | null;
}

/** The body of `GET /participants/{pid}/rewards`. */
export interface ParticipantRewards {
  participant_id: string;
  /** The newest 1,000 claims, newest first. */
  rewards: ClaimedReward[];
  /** Every claim the participant holds (may exceed `rewards.length`). */
  total_claimed: number;
}

/** A participant token as `POST /participants/{pid}/tokens` answers it (CONTRACT §10). */
export interface ParticipantToken {
  /** `cpt_...` */
  token: string;
  /** RFC 3339 UTC. */
  expires_at: string;
}

/** An RFC 9457 problem as Coffer answers every error (CONTRACT §3). */
export interface Problem {
  type: string;
  code: string;
  title: string;
  status: number;
  detail?: string;
  [member: string]: unknown;
}

/**
 * Where the hook gets a participant token: usually a call to your own backend,
 * which holds the server key and asks Coffer for a token. It may answer the
 * token alone or Coffer's `{ token, expires_at }` (then the hook renews it
 * before it expires instead of waiting for a `401`).
 */
export type GetToken = () => Promise<string | ParticipantToken> | string | ParticipantToken;
