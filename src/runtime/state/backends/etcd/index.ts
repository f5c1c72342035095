export type { EtcdStateOptions } from "./etcd-state.ts";
export { createEtcdState } from "./etcd-state.ts";
