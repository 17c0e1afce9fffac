/**
 * @coffer/react: a Coffer participant's claimed rewards in React (CONTRACT §10).
 */
export { useRewardsHeadless, REWARD_CLAIMED_EVENT } from "./useRewardsHeadless";
export type { UseRewardsHeadlessOptions, RewardsHeadlessResult } from "./useRewardsHeadless";
export { CofferProvider } from "./provider";
export type { CofferProviderProps } from "./provider";
export { CofferError } from "./errors";
export type {
  ClaimedReward, GetToken, ParticipantRewards, ParticipantToken, Problem, RewardType,
} from "./types";
