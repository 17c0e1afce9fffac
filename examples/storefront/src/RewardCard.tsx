import { useState } from "react";
import { type CatalogEntry, type Redeemed, shop } from "./shop";

/** Customer-facing copy for the reason a claim would be refused now (CONTRACT §4 eligibility). */
const WHY_NOT: Record<string, string> = {
  insufficient_points: "Not enough points",
  max_claims_exceeded: "Already claimed",
  inventory_exhausted: "Sold out",
  reward_expired: "This reward has ended",
  reward_inactive: "Not available yet",
};

type Step =
  | { kind: "idle" }
  | { kind: "confirming" }
  | { kind: "sending"; orderId: string }
  | { kind: "lost"; orderId: string } // the answer never arrived: retry the same order
  | { kind: "refused"; message: string };

interface Props {
  reward: CatalogEntry;
  balance: number;
  onRedeemed: (result: Extract<Redeemed, { ok: true }>) => void;
  /** Coffer refused: the catalog's stock and eligibility are stale, reload them. */
  onRefused: () => void;
}

/**
 * One catalog entry. Free and paid rewards are different surfaces (the seed's
 * pitfall): a free gift says "Claim"; a paid one says "Redeem for N points"
 * and asks for confirmation before any points move.
 */
export function RewardCard({ reward, balance, onRedeemed, onRefused }: Props) {
  const [step, setStep] = useState<Step>({ kind: "idle" });
  const paid = reward.points_cost !== null;
  const { eligible, reason } = reward.eligibility;
  const lowStock =
    reward.available_codes !== null &&
    reward.available_codes > 0 &&
    reward.available_codes <= (reward.low_stock_threshold ?? 10);

  async function send(orderId: string) {
    setStep({ kind: "sending", orderId });
    let result: Redeemed;
    try {
      result = await shop.redeem(orderId, reward.id);
    } catch {
      setStep({ kind: "lost", orderId });
      return;
    }
    if (result.ok) {
      setStep({ kind: "idle" });
      onRedeemed(result);
    } else {
      setStep({ kind: "refused", message: result.message });
      onRefused();
    }
  }
  // A new order id per deliberate redemption; a retry reuses it (seed Pattern 1).
  const start = () => void send(`ord-${crypto.randomUUID()}`);

  return (
    <article aria-label={reward.name} className={paid ? "card paid" : "card free"}>
      <header>
        <span className="badge">{paid ? `${reward.points_cost} points` : "Free gift"}</span>
        <span className="type">{reward.type}</span>
      </header>
      <h3>{reward.name}</h3>
      {reward.description && <p className="description">{reward.description}</p>}
      {lowStock && <p className="low-stock">Only {reward.available_codes} left!</p>}
      {!eligible && reason ? (
        <p className="ineligible">{WHY_NOT[reason] ?? "Not available"}</p>
      ) : step.kind === "confirming" ? (
        <div className="confirm">
          <p>
            Spend {reward.points_cost} of your {balance} points on {reward.name}?
          </p>
          <button onClick={start}>Confirm</button>
          <button className="secondary" onClick={() => setStep({ kind: "idle" })}>
            Cancel
          </button>
        </div>
      ) : step.kind === "sending" ? (
        <button disabled>{paid ? "Redeeming…" : "Claiming…"}</button>
      ) : step.kind === "lost" ? (
        <div className="confirm">
          <p>The connection dropped before we heard back.</p>
          <button onClick={() => void send(step.orderId)}>Retry</button>
        </div>
      ) : (
        <>
          {step.kind === "refused" && <p className="ineligible">{step.message}</p>}
          {paid ? (
            <button onClick={() => setStep({ kind: "confirming" })}>
              Redeem for {reward.points_cost} points
            </button>
          ) : (
            <button onClick={start}>Claim</button>
          )}
        </>
      )}
    </article>
  );
}
