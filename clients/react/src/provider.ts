import { createContext, createElement, useContext, useMemo, useRef } from "react";
import type { ReactNode } from "react";
import { TokenKeeper } from "./tokens.js";
import type { GetToken } from "./types.js";

/** What the hooks inside a <CofferProvider> share. */
export interface CofferConfig {
  baseUrl: string;
  participantId: string;
  tokens: TokenKeeper;
  fetch: typeof fetch;
}

const CofferContext = createContext<CofferConfig | null>(null);

export interface CofferProviderProps {
  /** Coffer's origin, e.g. `https://rewards.example.com` (`/api/v1/gamify` is appended). */
  baseUrl: string;
  /** The signed-in participant: your own user id, as your backend claims for it. */
  participantId: string;
  /** Asks your backend for a participant token (see GetToken). */
  getToken: GetToken;
  /** A fetch to use instead of the global one (server rendering, instrumentation). */
  fetch?: typeof fetch;
  children?: ReactNode;
}

/**
 * Gives every `useRewardsHeadless()` below it Coffer's address, the participant
 * and one shared participant token, so the hooks take no options (CONTRACT §10).
 * A new participantId or baseUrl starts a new token.
 */
export function CofferProvider(props: CofferProviderProps) {
  const { baseUrl, participantId, children } = props;
  const latest = useRef(props);
  latest.current = props;
  const fetchImpl = props.fetch;
  const config = useMemo<CofferConfig>(
    () => ({
      baseUrl,
      participantId,
      // the latest getToken, so an inline arrow function does not start a new token each render
      tokens: new TokenKeeper(() => latest.current.getToken()),
      fetch: fetchImpl ?? ((input, init) => globalThis.fetch(input, init)),
    }),
    [baseUrl, participantId, fetchImpl],
  );
  return createElement(CofferContext.Provider, { value: config }, children);
}

/** The nearest provider's configuration, or null outside any. */
export function useCofferConfig(): CofferConfig | null {
  return useContext(CofferContext);
}
