import { Code } from "@connectrpc/connect";
import { toConnectError } from "../../api/error-mapping.ts";
import { hasCode, isPlinthError } from "../../errors/plinth-error.ts";
import { ipKey } from "./client-ip.ts";
import type { CallContext, ClusterHandlers, ClusterMethod } from "./cluster-handlers.ts";
import type { DiscoveryMetrics, RejectionReason } from "./discovery-metrics.ts";
import type { RateLimiter } from "./rate-limiter.ts";

export interface GuardOptions {
  /** Absent: no rate limiting. */
  readonly limiter?: RateLimiter;
  readonly metrics: DiscoveryMetrics;
}

const methodNames: Record<ClusterMethod, string> = {
  hello: "Hello",
  affiliateUpdate: "AffiliateUpdate",
  affiliateDelete: "AffiliateDelete",
  list: "List",
  watch: "Watch",
};

/** Marks the rate limiter's refusals apart from the store's, which share the code. */
const rateLimited = new WeakSet<object>();

function codeName(err: unknown): string {
  return Code[toConnectError(err).code] ?? "Unknown";
}

function rejection(err: unknown): RejectionReason | undefined {
  if (typeof err === "object" && err !== null && rateLimited.has(err)) return "rate_limit";
  if (hasCode(err, "invalid_argument")) return "invalid_argument";
  if (hasCode(err, "resource_exhausted")) return "limit";
  if (hasCode(err, "conflict")) return "watch_overflow";
  return undefined;
}

/**
 * Every call of the Cluster service, on any transport, passes here: one rate-limit token per
 * call (a watch pays once, when it starts), then counted and timed by method and outcome.
 */
export function guardHandlers(inner: ClusterHandlers, options: GuardOptions): ClusterHandlers {
  const { limiter, metrics } = options;

  async function admit(call: CallContext): Promise<void> {
    if (!limiter) return;
    try {
      const key = ipKey(call.clientIp);
      if (!limiter.tryTake(key)) await limiter.take(key, { deadline: call.deadline, signal: call.signal });
    } catch (err) {
      if (isPlinthError(err) && err.code === "resource_exhausted") rateLimited.add(err);
      throw err;
    }
  }

  // prom-client looks labels up on every call; the common outcome is resolved once.
  const succeeded = new Map(
    Object.entries(methodNames).map(([m, name]) => [m, metrics.calls.labels({ method: name, code: "OK" })]),
  );
  const timed = new Map(
    Object.entries(methodNames).map(([m, name]) => [m, metrics.duration.labels({ method: name })]),
  );

  function record(method: ClusterMethod, err: unknown): void {
    if (err === undefined) {
      succeeded.get(method)!.inc();
      return;
    }
    metrics.calls.inc({ method: methodNames[method], code: codeName(err) });
    const reason = rejection(err);
    if (reason) metrics.rejections.inc({ reason });
  }

  function unary<Req, Res>(
    method: ClusterMethod,
    fn: (req: Req, call: CallContext) => Promise<Res>,
  ): (req: Req, call: CallContext) => Promise<Res> {
    const duration = timed.get(method)!;
    return async (req, call) => {
      const started = performance.now();
      try {
        await admit(call);
        const res = await fn(req, call);
        record(method, undefined);
        return res;
      } catch (err) {
        record(method, err);
        throw err;
      } finally {
        duration.observe((performance.now() - started) / 1000);
      }
    };
  }

  return {
    hello: unary("hello", inner.hello),
    affiliateUpdate: unary("affiliateUpdate", inner.affiliateUpdate),
    affiliateDelete: unary("affiliateDelete", inner.affiliateDelete),
    list: unary("list", inner.list),
    async *watch(req, call) {
      let failure: unknown;
      try {
        await admit(call);
        yield* inner.watch(req, call);
      } catch (err) {
        failure = err;
        throw err;
      } finally {
        // A watch ends when the client leaves: that is its normal end, not an error.
        record("watch", failure === undefined || call.signal.aborted ? undefined : failure);
      }
    },
  };
}
