/**
 * @coffer/react: a Coffer participant's claimed rewards in React (CONTRACT §10).
 */
export { useRewardsHeadless, REWARD_CLAIMED_EVENT } from "./useRewardsHeadless.js";
export type { UseRewardsHeadlessOptions, RewardsHeadlessResult } from "./useRewardsHeadless.js";
export { CofferProvider } from "./provider.js";
export type { CofferProviderProps } from "./provider.js";
export { CofferError } from "./errors.js";
export type {
  ClaimedReward, GetToken, ParticipantRewards, ParticipantToken, Problem, RewardType,
} from "./types.js";
