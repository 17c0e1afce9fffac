/** The hook's pure parts: where it sends the request, and how it keeps one token. */
import { describe, expect, it } from "vitest";
import { rewardsUrl } from "../src/request";
import { TokenKeeper } from "../src/tokens";

describe("rewardsUrl", () => {
  it("appends the API prefix to an origin, with or without a trailing slash", () => {
    expect(rewardsUrl("https://r.example.com", "user_42")).toBe(
      "https://r.example.com/api/v1/gamify/participants/user_42/rewards",
    );
    expect(rewardsUrl("https://r.example.com/", "user_42")).toBe(
      "https://r.example.com/api/v1/gamify/participants/user_42/rewards",
    );
  });

  it("keeps a prefix a proxy adds and does not repeat /api/v1/gamify", () => {
    expect(rewardsUrl("https://shop.example/coffer/api/v1/gamify/", "u")).toBe(
      "https://shop.example/coffer/api/v1/gamify/participants/u/rewards",
    );
  });

  it("percent-encodes the participant id so it stays one path segment", () => {
    expect(rewardsUrl("http://c", "a/b ü?#")).toBe(
      "http://c/api/v1/gamify/participants/a%2Fb%20%C3%BC%3F%23/rewards",
    );
  });
});

describe("TokenKeeper", () => {
  it("asks getToken() once for callers that arrive together", async () => {
    let asked = 0;
    const keeper = new TokenKeeper(async () => `cpt_${++asked}`);
    const tokens = await Promise.all([keeper.current(), keeper.current(), keeper.current()]);
    expect(tokens).toEqual(["cpt_1", "cpt_1", "cpt_1"]);
    expect(asked).toBe(1);
  });

  it("renews within ten seconds of expires_at, and not before", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    let asked = 0;
    const keeper = new TokenKeeper(
      () => ({ token: `cpt_${++asked}`, expires_at: "2026-01-01T00:01:00Z" }),
      () => now,
    );
    expect(await keeper.current()).toBe("cpt_1");
    now += 49_000;
    expect(await keeper.current()).toBe("cpt_1");
    now += 2_000; // 9 s left
    expect(await keeper.current()).toBe("cpt_2");
  });

  it("drops a refused token but not a newer one another caller already got", async () => {
    let asked = 0;
    const keeper = new TokenKeeper(() => `cpt_${++asked}`);
    const first = await keeper.current();
    keeper.refused(first);
    const second = await keeper.current();
    keeper.refused(first); // a late 401 for the old token
    expect(await keeper.current()).toBe(second);
    expect(asked).toBe(2);
  });

  it("surfaces a getToken() failure and tries again on the next call", async () => {
    let asked = 0;
    const keeper = new TokenKeeper(async () => {
      asked += 1;
      if (asked === 1) throw new Error("backend down");
      return "cpt_ok";
    });
    await expect(keeper.current()).rejects.toThrow("backend down");
    expect(await keeper.current()).toBe("cpt_ok");
  });
});
