/**
 * useRewardsHeadless against a real `coffer serve` (test/coffer-serve.ts): real
 * HTTP, real participant tokens, real claims. The only thing wrapped is fetch,
 * counted on its way through (countingFetch), never answered by the test.
 */
import { act, cleanup, render, renderHook, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  CofferError,
  CofferProvider,
  type GetToken,
  REWARD_CLAIMED_EVENT,
  useRewardsHeadless,
} from "@coffer/react";
import { claim, coffer, countingFetch, createFreeReward, issueToken, newId } from "./coffer";
import { MyRewards } from "./MyRewards";

afterEach(cleanup);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tokensFor(participantId: string) {
  const asked: string[] = [];
  const getToken: GetToken = async () => {
    const issued = await issueToken(participantId);
    asked.push(issued.token);
    return issued;
  };
  return { getToken, asked };
}

function announceClaim(detail: object = {}) {
  act(() => {
    window.dispatchEvent(new CustomEvent(REWARD_CLAIMED_EVENT, { detail }));
  });
}

describe("useRewardsHeadless", () => {
  it("fetches the participant's claims once, with the wire fields, and never polls", async () => {
    const participant = newId();
    const reward = await createFreeReward("Free Shipping");
    const first = await claim(reward, participant);
    const { fetch, calls } = countingFetch();
    const { getToken } = tokensFor(participant);

    const { result } = renderHook(() =>
      useRewardsHeadless({ participantId: participant, getToken, baseUrl: coffer.baseUrl, fetch }),
    );
    expect(result.current.isLoading).toBe(true);
    await waitFor(() => expect(result.current.isLoading).toBe(false));

    expect(result.current.error).toBeNull();
    expect(result.current.totalClaimed).toBe(1);
    expect(result.current.rewards).toEqual([
      {
        claim_id: first.claim_id,
        reward_id: reward,
        reward_name: "Free Shipping",
        reward_type: "voucher",
        code_value: first.code_value,
        claimed_at: first.claimed_at,
        expires_at: null,
      },
    ]);
    await claim(reward, participant); // a claim nobody announces
    await sleep(1500);
    expect(calls).toHaveLength(1);
    expect(result.current.totalClaimed).toBe(1);
  });

  it("re-fetches when reward:claimed is dispatched on window", async () => {
    const participant = newId();
    const reward = await createFreeReward();
    const { getToken } = tokensFor(participant);
    const { result } = renderHook(() =>
      useRewardsHeadless({ participantId: participant, getToken, baseUrl: coffer.baseUrl }),
    );
    await waitFor(() => expect(result.current.isLoading).toBe(false));
    expect(result.current.rewards).toEqual([]);

    const made = await claim(reward, participant);
    announceClaim({ participant_id: participant, claim_id: made.claim_id });

    await waitFor(() => expect(result.current.totalClaimed).toBe(1));
    expect(result.current.rewards[0].code_value).toBe(made.code_value);
    expect(result.current.isLoading).toBe(false); // a re-fetch does not flash the loading state
  });

  it("ignores reward:claimed announced for another participant", async () => {
    const participant = newId();
    const { fetch, calls } = countingFetch();
    const { getToken } = tokensFor(participant);
    const { result } = renderHook(() =>
      useRewardsHeadless({ participantId: participant, getToken, baseUrl: coffer.baseUrl, fetch }),
    );
    await waitFor(() => expect(result.current.isLoading).toBe(false));

    announceClaim({ participant_id: newId() });
    await sleep(300);
    expect(calls).toHaveLength(1);
    announceClaim(); // no detail: a claim for whoever is signed in
    await waitFor(() => expect(calls).toHaveLength(2));
  });

  it("refresh() re-fetches and resolves once the new list is in", async () => {
    const participant = newId();
    const reward = await createFreeReward();
    const { getToken } = tokensFor(participant);
    const { result } = renderHook(() =>
      useRewardsHeadless({ participantId: participant, getToken, baseUrl: coffer.baseUrl }),
    );
    await waitFor(() => expect(result.current.isLoading).toBe(false));
    await claim(reward, participant);
    await claim(reward, participant);

    await act(() => result.current.refresh());

    expect(result.current.totalClaimed).toBe(2);
    expect(result.current.rewards).toHaveLength(2);
  });

  it("renews a refused token through getToken() once and retries", async () => {
    const participant = newId();
    const reward = await createFreeReward();
    await claim(reward, participant);
    const answers: string[] = [];
    const getToken: GetToken = async () => {
      // first a token Coffer will refuse (as it refuses an expired one), then a good one
      const token = answers.length === 0 ? "cpt_not-a-real-token" : (await issueToken(participant)).token;
      answers.push(token);
      return token;
    };
    const { result } = renderHook(() =>
      useRewardsHeadless({ participantId: participant, getToken, baseUrl: coffer.baseUrl }),
    );
    await waitFor(() => expect(result.current.isLoading).toBe(false));

    expect(result.current.error).toBeNull();
    expect(result.current.totalClaimed).toBe(1);
    expect(answers).toHaveLength(2);
  });

  it("gives up after one renewal: a token refused twice is a 401 CofferError, no loop", async () => {
    const participant = newId();
    let asked = 0;
    const getToken: GetToken = () => {
      asked += 1;
      return "cpt_still-not-a-token";
    };
    const { result } = renderHook(() =>
      useRewardsHeadless({ participantId: participant, getToken, baseUrl: coffer.baseUrl }),
    );
    await waitFor(() => expect(result.current.isLoading).toBe(false));

    expect(result.current.error).toBeInstanceOf(CofferError);
    expect((result.current.error as CofferError).status).toBe(401);
    expect((result.current.error as CofferError).code).toBe("unauthorized");
    expect(result.current.rewards).toEqual([]);
    expect(asked).toBe(2);
  });

  it("renews a token before its expires_at instead of sending it stale", async () => {
    const participant = newId();
    let asked = 0;
    const getToken: GetToken = async () => {
      asked += 1;
      const issued = await issueToken(participant);
      // claim it lapses within the renewal margin, so each use needs a new one
      return { token: issued.token, expires_at: new Date(Date.now() + 5_000).toISOString() };
    };
    const { result } = renderHook(() =>
      useRewardsHeadless({ participantId: participant, getToken, baseUrl: coffer.baseUrl }),
    );
    await waitFor(() => expect(result.current.isLoading).toBe(false));
    expect(asked).toBe(1);

    await act(() => result.current.refresh());
    expect(asked).toBe(2);
    expect(result.current.error).toBeNull();
  });

  it("keeps a token that is far from expiry for the next fetch", async () => {
    const participant = newId();
    const { getToken, asked } = tokensFor(participant);
    const { result } = renderHook(() =>
      useRewardsHeadless({ participantId: participant, getToken, baseUrl: coffer.baseUrl }),
    );
    await waitFor(() => expect(result.current.isLoading).toBe(false));
    await act(() => result.current.refresh());
    await act(() => result.current.refresh());
    expect(asked).toHaveLength(1);
  });

  it("aborts the stale request when the participant changes and never shows its answer", async () => {
    const alice = newId("alice");
    const bob = newId("bob");
    const reward = await createFreeReward();
    await claim(reward, alice);
    const { fetch, calls } = countingFetch();
    const getToken: GetToken = async () => {
      await sleep(50); // Alice's fetch is still on its way when Bob signs in
      return (await issueToken(current)).token;
    };
    let current = alice;
    const seen: number[] = [];
    const { result, rerender } = renderHook(
      ({ participantId }) => {
        const state = useRewardsHeadless({ participantId, getToken, baseUrl: coffer.baseUrl, fetch });
        seen.push(state.totalClaimed);
        return state;
      },
      { initialProps: { participantId: alice } },
    );
    current = bob;
    rerender({ participantId: bob });
    await waitFor(() => expect(result.current.isLoading).toBe(false));

    expect(result.current.totalClaimed).toBe(0);
    expect(seen).not.toContain(1); // Alice's claim never reached the screen
    expect(calls.every((c) => c.url.includes(encodeURIComponent(bob)))).toBe(true);
  });

  it("aborts the request in flight on unmount", async () => {
    const participant = newId();
    const { fetch, calls } = countingFetch({ delayMs: 300 }); // a slow network
    const { getToken } = tokensFor(participant);
    const { unmount } = renderHook(() =>
      useRewardsHeadless({ participantId: participant, getToken, baseUrl: coffer.baseUrl, fetch }),
    );
    await waitFor(() => expect(calls).toHaveLength(1));
    unmount();
    expect(calls[0].signal?.aborted).toBe(true);
    await expect(calls[0].settled).rejects.toThrow(/abort/i); // the real request was cancelled
  });

  it("explains itself when used with neither options nor a provider", () => {
    // React and jsdom also report the render error (console, window "error"); the throw is
    // what is tested, so keep their copies out of the output
    const quiet = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const swallow = (event: ErrorEvent) => event.preventDefault();
    window.addEventListener("error", swallow);
    expect(() => renderHook(() => useRewardsHeadless())).toThrow(/CofferProvider/);
    expect(() =>
      renderHook(() => useRewardsHeadless({ participantId: "user_42" })),
    ).toThrow(/all of participantId, getToken and baseUrl/);
    window.removeEventListener("error", swallow);
    quiet.mockRestore();
  });
});

describe("CofferProvider", () => {
  it("renders the seed's MyRewards unchanged but for its import, engagementId ignored", async () => {
    const participant = newId();
    const reward = await createFreeReward("Birthday Gift");
    const made = await claim(reward, participant);
    const { getToken } = tokensFor(participant);

    render(
      <CofferProvider baseUrl={coffer.baseUrl} participantId={participant} getToken={getToken}>
        <MyRewards engagementId="eng_spring_sale" />
      </CofferProvider>,
    );

    expect(screen.getByText("Loading your rewards…")).toBeTruthy();
    expect(await screen.findByText("Your rewards (1)")).toBeTruthy();
    expect(screen.getByText(made.code_value)).toBeTruthy();
    expect(screen.getByText("Birthday Gift")).toBeTruthy();

    const second = await claim(reward, participant);
    announceClaim({ participant_id: participant });
    expect(await screen.findByText("Your rewards (2)")).toBeTruthy();
    expect(screen.getByText(second.code_value)).toBeTruthy();
  });

  it("shares one token among the hooks below it", async () => {
    const participant = newId();
    const { getToken, asked } = tokensFor(participant);
    function Two() {
      const a = useRewardsHeadless();
      const b = useRewardsHeadless({ engagementId: "ignored" });
      return <p>{a.isLoading || b.isLoading ? "loading" : `done ${a.totalClaimed + b.totalClaimed}`}</p>;
    }
    render(
      <CofferProvider baseUrl={coffer.baseUrl} participantId={participant} getToken={getToken}>
        <Two />
      </CofferProvider>,
    );
    expect(await screen.findByText("done 0")).toBeTruthy();
    expect(asked).toHaveLength(1);
  });

  it("shows the seed's error line when Coffer refuses the participant", async () => {
    render(
      <CofferProvider baseUrl={coffer.baseUrl} participantId={newId()} getToken={() => "cpt_bogus"}>
        <MyRewards engagementId="x" />
      </CofferProvider>,
    );
    expect(await screen.findByText("Could not load rewards.")).toBeTruthy();
  });
});
