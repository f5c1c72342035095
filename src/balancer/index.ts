export { type Balancer, type BalancerLog, type BalancerOptions, startBalancer } from "./balancer.ts";
export type { BalancerSettings } from "./balancer-settings.ts";
export type { BalancerStatus, UpstreamStatus } from "./balancer-status.ts";
export type { Probe } from "./health-checker.ts";
export { type Dial, type DialOptions, dialTcp } from "./node-dialer.ts";
export { parseUpstreamAddress, type UpstreamAddress, upstreamKey } from "./upstream-address.ts";
export type { UpstreamHealth } from "./upstream-pool.ts";
