import { errorFrom } from "./errors.js";
import type { TokenKeeper } from "./tokens.js";
import type { ParticipantRewards } from "./types.js";

const API_PREFIX = "/api/v1/gamify";

/** Everything one fetch of a participant's rewards needs. */
export interface RewardsRequest {
  baseUrl: string;
  participantId: string;
  tokens: TokenKeeper;
  signal: AbortSignal;
  fetch: typeof fetch;
}

/**
 * `baseUrl` is Coffer's origin (`https://rewards.example.com`), optionally with
 * a path prefix a proxy adds; `/api/v1/gamify` is appended unless already there.
 */
export function rewardsUrl(baseUrl: string, participantId: string): string {
  let root = baseUrl.replace(/\/+$/, "");
  if (!root.endsWith(API_PREFIX)) root += API_PREFIX;
  return `${root}/participants/${encodeURIComponent(participantId)}/rewards`;
}

/**
 * GET the participant's claimed rewards with a participant token. A 401 means
 * the token expired or was revoked: renew it through getToken() once and retry
 * once; a second 401, or any other error, is thrown as a CofferError.
 */
export async function fetchParticipantRewards(req: RewardsRequest): Promise<ParticipantRewards> {
  const url = rewardsUrl(req.baseUrl, req.participantId);
  const send = (token: string) =>
    req.fetch(url, {
      headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
      signal: req.signal,
      credentials: "omit", // the token is the credential; the shop's cookies stay home
    });
  let token = await req.tokens.current();
  req.signal.throwIfAborted();
  let response = await send(token);
  if (response.status === 401) {
    req.tokens.refused(token);
    token = await req.tokens.current(); // a newer token another hook already got, or a new one
    req.signal.throwIfAborted();
    response = await send(token);
  }
  if (!response.ok) throw await errorFrom(response);
  return (await response.json()) as ParticipantRewards;
}
