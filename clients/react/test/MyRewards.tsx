"use client";
import { useRewardsHeadless } from "@coffer/react";

export function MyRewards({ engagementId }: { engagementId: string }) {
  const {
    rewards,         // array of claimed rewards
    totalClaimed,    // total count
    isLoading,
    error,
    refresh,
  } = useRewardsHeadless({ engagementId });

  if (isLoading) return <p>Loading your rewards&hellip;</p>;
  if (error) return <p>Could not load rewards.</p>;
  if (!rewards.length) {
    return <p>No rewards claimed yet. Visit the catalog to spend your points.</p>;
  }

  return (
    <div>
      <h2 className="text-lg font-semibold mb-3">Your rewards ({totalClaimed})</h2>
      <ul className="space-y-3">
        {rewards.map((r) => (
          <li key={r.claim_id} className="rounded-xl border border-slate-200 p-4">
            <div className="flex items-baseline justify-between">
              <span className="font-semibold">{r.reward_name}</span>
              <span className="text-xs uppercase text-slate-500">{r.reward_type}</span>
            </div>
            <code className="block mt-2 font-mono text-sm bg-slate-50 rounded px-2 py-1">
              {r.code_value}
            </code>
            {r.expires_at && (
              <p className="mt-2 text-xs text-slate-500">
                Expires {new Date(r.expires_at).toLocaleDateString()}
              </p>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
