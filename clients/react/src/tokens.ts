import type { GetToken } from "./types.js";

/** Renew this long before `expires_at`, so a request never leaves with a token about to lapse. */
const RENEW_BEFORE_MS = 10_000;

interface Held {
  token: string;
  /** Epoch milliseconds, or null when getToken() answered a bare token. */
  expiresAt: number | null;
}

/**
 * Holds one participant token and renews it through `getToken()`: before it
 * expires when its `expires_at` is known, and whenever Coffer refused it.
 * Concurrent callers share one renewal, so several hooks under one provider
 * ask the backend for one token, not one each.
 */
export class TokenKeeper {
  private held: Held | null = null;
  private renewal: Promise<string> | null = null;

  constructor(
    private readonly getToken: GetToken,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token that should still be valid: the one held, or a fresh one. */
  async current(): Promise<string> {
    const held = this.held;
    if (held && (held.expiresAt === null || held.expiresAt - this.now() > RENEW_BEFORE_MS)) {
      return held.token;
    }
    return this.renew();
  }

  /** Coffer refused `token` (401): drop it, unless a newer one already replaced it. */
  refused(token: string): void {
    if (this.held?.token === token) this.held = null;
  }

  /** Ask getToken() for a new token (one call however many callers wait). */
  private renew(): Promise<string> {
    this.renewal ??= this.fetchToken().finally(() => {
      this.renewal = null;
    });
    return this.renewal;
  }

  private async fetchToken(): Promise<string> {
    const answer = await this.getToken();
    const held: Held =
      typeof answer === "string"
        ? { token: answer, expiresAt: null }
        : { token: answer.token, expiresAt: parseExpiry(answer.expires_at) };
    if (!held.token) throw new Error("getToken() answered no token");
    this.held = held;
    return held.token;
  }
}

function parseExpiry(expiresAt: string | undefined): number | null {
  const at = expiresAt ? Date.parse(expiresAt) : Number.NaN;
  return Number.isNaN(at) ? null : at;
}
