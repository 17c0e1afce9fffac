import { CofferProvider, REWARD_CLAIMED_EVENT } from "@coffer/react";
import { useCallback, useEffect, useState } from "react";
import { MyRewards } from "./MyRewards";
import { RewardCard } from "./RewardCard";
import { type Catalog, type Redeemed, type Session, shop } from "./shop";

type Success = Extract<Redeemed, { ok: true }>;

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [catalog, setCatalog] = useState<Catalog | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [last, setLast] = useState<Success | null>(null);

  const loadCatalog = useCallback(
    () => shop.catalog().then(setCatalog, () => setFailure("The catalog could not be loaded.")),
    [],
  );
  useEffect(() => {
    shop.session().then(setSession, () => setFailure("The shop could not be reached."));
    void loadCatalog();
  }, [loadCatalog]);

  const onRedeemed = (result: Success) => {
    setLast(result);
    // Tell every useRewardsHeadless on the page; "Your rewards" re-fetches, no reload.
    window.dispatchEvent(
      new CustomEvent(REWARD_CLAIMED_EVENT, {
        detail: { participant_id: session?.participant_id, claim_id: result.claim_id },
      }),
    );
    void loadCatalog(); // balance and eligibility changed
  };

  if (failure) return <p role="alert">{failure}</p>;
  if (!session || !catalog) return <p>Loading the store…</p>;
  const free = catalog.rewards.filter((r) => r.points_cost === null);
  const paid = catalog.rewards.filter((r) => r.points_cost !== null);

  return (
    <main>
      <header className="top">
        <h1>Coffer Demo Store</h1>
        <p>
          Signed in as <strong>{session.participant_id}</strong> ·{" "}
          <span aria-label="balance">{catalog.balance} points</span>
        </p>
      </header>
      {last && (
        <p role="status" className="success">
          You got {last.reward_name}: <code>{last.code}</code>
          {last.points_deducted > 0 &&
            ` · You spent ${last.points_deducted} points, new balance: ${last.new_balance}`}
        </p>
      )}
      {(
        [
          ["Free gifts", free],
          ["Redeem with points", paid],
        ] as const
      ).map(([title, rewards]) => (
        <section key={title} aria-label={title}>
          <h2>{title}</h2>
          <div className="grid">
            {rewards.map((r) => (
              <RewardCard
                key={r.id}
                reward={r}
                balance={catalog.balance}
                onRedeemed={onRedeemed}
                onRefused={loadCatalog}
              />
            ))}
          </div>
        </section>
      ))}
      <section aria-label="Your rewards" className="mine">
        <CofferProvider
          baseUrl={session.coffer_url}
          participantId={session.participant_id}
          getToken={shop.token}
        >
          <MyRewards engagementId="storefront" />
        </CofferProvider>
      </section>
    </main>
  );
}
