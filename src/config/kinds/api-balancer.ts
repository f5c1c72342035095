import { z } from "zod";
import { parseDuration } from "../duration.ts";
import { duration, port } from "../fields.ts";
import { addIssue, defineKind } from "../kind-definition.ts";

export const APIBalancer = defineKind({
  kind: "APIBalancer",
  description:
    "A TCP load balancer on 127.0.0.1 in front of the control planes, so that the control-plane endpoint " +
    "stays reachable while control planes come and go.",
  fields: {
    enabled: z.boolean().default(true).describe("whether the balancer runs"),
    port: port().default(7445).describe("port on 127.0.0.1"),
    dataPath: z
      .enum(["auto", "node", "kernel"])
      .default("auto")
      .describe(
        "auto | node | kernel: `kernel` forwards with nftables DNAT (needs root and nft), `node` in the " +
          "agent's process, `auto` the kernel when it can",
      ),
    healthCheck: z
      .strictObject({
        interval: duration().default("1s").describe("time between checks of an upstream"),
        timeout: duration().default("500ms").describe("time one TCP connect check may take"),
      })
      .prefault({})
      .describe("active health checks of the upstreams"),
  },
  check(doc, ctx) {
    const { interval, timeout } = doc.healthCheck;
    if ((parseDuration(timeout) ?? 0) > (parseDuration(interval) ?? 0)) {
      addIssue(ctx, ["healthCheck", "timeout"], `must not exceed the interval (${interval}), got ${timeout}`);
    }
  },
  example: `apiVersion: v1alpha1
kind: APIBalancer
port: 7445
dataPath: auto
healthCheck:
  interval: 1s
  timeout: 500ms
`,
});
