import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useCofferConfig } from "./provider.js";
import type { CofferConfig } from "./provider.js";
import { fetchParticipantRewards } from "./request.js";
import { TokenKeeper } from "./tokens.js";
import type { ClaimedReward, GetToken } from "./types.js";

/** The window event that makes every mounted hook re-fetch (the seed's client event). */
export const REWARD_CLAIMED_EVENT = "reward:claimed";

export interface UseRewardsHeadlessOptions {
  /** Coffer's origin; required outside a <CofferProvider>. */
  baseUrl?: string;
  /** Whose rewards; required outside a <CofferProvider>. */
  participantId?: string;
  /** Asks your backend for a participant token; required outside a <CofferProvider>. */
  getToken?: GetToken;
  /**
   * Accepted so the seed's `useRewardsHeadless({ engagementId })` compiles
   * unchanged, and ignored: Coffer has no engagements, a participant's rewards
   * are all the rewards it holds in the tenant and mode of the token.
   */
  engagementId?: string;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

export interface RewardsHeadlessResult {
  /** The participant's claims, newest first, with the wire's snake_case members. */
  rewards: ClaimedReward[];
  /** Every claim the participant holds (`total_claimed`). */
  totalClaimed: number;
  /** True until the first answer for this participant arrives (not during re-fetches). */
  isLoading: boolean;
  /** The last fetch's error (a CofferError for a refusal); cleared by the next success. */
  error: Error | null;
  /** Re-fetch now; resolves when that fetch settles (it never rejects: see `error`). */
  refresh: () => Promise<void>;
}

interface Loaded {
  /** Which participant and Coffer this state is about. */
  scope: string;
  rewards: ClaimedReward[];
  totalClaimed: number;
  error: Error | null;
  settled: boolean;
}

const NOTHING: ClaimedReward[] = [];

/**
 * A participant's claimed rewards (CONTRACT §10). Fetches once on mount, again
 * when `reward:claimed` is dispatched on `window` and on `refresh()`; never
 * polls. A newer fetch, a new participant or an unmount aborts the request in
 * flight, so a stale answer never replaces a newer one.
 *
 * Inside a <CofferProvider> it takes no options (or the seed's `{ engagementId }`,
 * ignored); outside one it needs `participantId`, `getToken` and `baseUrl`.
 */
export function useRewardsHeadless(options: UseRewardsHeadlessOptions = {}): RewardsHeadlessResult {
  const config = useConfig(options);
  const { baseUrl, participantId } = config;
  const scope = `${baseUrl}\u0000${participantId}`;
  const [state, setState] = useState<Loaded>({
    scope, rewards: NOTHING, totalClaimed: 0, error: null, settled: false,
  });
  const inFlight = useRef<AbortController | null>(null);

  const load = useCallback(async (): Promise<void> => {
    inFlight.current?.abort();
    const controller = new AbortController();
    inFlight.current = controller;
    try {
      const body = await fetchParticipantRewards({
        baseUrl, participantId, tokens: config.tokens, fetch: config.fetch, signal: controller.signal,
      });
      if (controller.signal.aborted) return;
      setState({
        scope, rewards: body.rewards, totalClaimed: body.total_claimed, error: null, settled: true,
      });
    } catch (caught) {
      if (controller.signal.aborted) return; // superseded or unmounted: not an error
      const error = caught instanceof Error ? caught : new Error(String(caught));
      // keep what was shown before: a failed re-fetch does not empty the list
      setState((prev) =>
        prev.scope === scope
          ? { ...prev, error, settled: true }
          : { scope, rewards: NOTHING, totalClaimed: 0, error, settled: true },
      );
    } finally {
      if (inFlight.current === controller) inFlight.current = null;
    }
  }, [baseUrl, participantId, scope, config.tokens, config.fetch]);

  useEffect(() => {
    void load();
    return () => inFlight.current?.abort();
  }, [load]);

  useEffect(() => {
    const onClaimed = (event: Event) => {
      // a claim announced for someone else (another tab's user, say) changes nothing here
      const detail = (event as CustomEvent<{ participant_id?: unknown } | null>).detail;
      const claimedFor = detail?.participant_id;
      if (typeof claimedFor === "string" && claimedFor !== participantId) return;
      void load();
    };
    window.addEventListener(REWARD_CLAIMED_EVENT, onClaimed);
    return () => window.removeEventListener(REWARD_CLAIMED_EVENT, onClaimed);
  }, [load, participantId]);

  // Until this participant's first answer, show nothing of the previous one.
  const current = state.scope === scope;
  return {
    rewards: current ? state.rewards : NOTHING,
    totalClaimed: current ? state.totalClaimed : 0,
    isLoading: !current || !state.settled,
    error: current ? state.error : null,
    refresh: load,
  };
}

/** The options given, or the provider's; a partial set is a mistake worth a clear message. */
function useConfig(options: UseRewardsHeadlessOptions): CofferConfig {
  const provided = useCofferConfig();
  const { baseUrl, participantId, getToken, fetch: fetchOption } = options;
  const latestGetToken = useRef(getToken);
  latestGetToken.current = getToken;
  const own = baseUrl !== undefined || participantId !== undefined || getToken !== undefined;
  if (own && (!baseUrl || !participantId || !getToken)) {
    throw new Error(
      "useRewardsHeadless: pass all of participantId, getToken and baseUrl, or none of them " +
        "inside a <CofferProvider>",
    );
  }
  if (!own && !provided) {
    throw new Error(
      "useRewardsHeadless: no options and no <CofferProvider> above; pass " +
        "{ participantId, getToken, baseUrl } or wrap the tree in <CofferProvider>",
    );
  }
  const ownTokens = useMemo(
    // a new participant or Coffer starts a new token; getToken itself may change every render
    () => new TokenKeeper(() => (latestGetToken.current as GetToken)()),
    [baseUrl, participantId],
  );
  const ownFetch = useMemo<typeof fetch>(
    () => fetchOption ?? ((input, init) => globalThis.fetch(input, init)),
    [fetchOption],
  );
  if (!own) return provided as CofferConfig;
  return {
    baseUrl: baseUrl as string, participantId: participantId as string,
    tokens: ownTokens, fetch: ownFetch,
  };
}
