import type { Interceptor } from "@connectrpc/connect";
import { toConnectError } from "../error-mapping.ts";

async function* translated<T>(messages: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (err) {
    throw toConnectError(err);
  }
}

/**
 * Answers every error a handler or an inner interceptor throws (PlinthError or anything else) with
 * its ConnectError, the server side's only translation; also errors thrown mid-stream. Goes
 * first in the interceptor list, so that it wraps all the others.
 */
export function createErrorInterceptor(): Interceptor {
  return (next) => async (req) => {
    try {
      const res = await next(req);
      return res.stream ? { ...res, message: translated(res.message) } : res;
    } catch (err) {
      throw toConnectError(err);
    }
  };
}
