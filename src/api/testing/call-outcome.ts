import { fromConnectError } from "../error-mapping.ts";

/** "ok", or how the call failed as "code: message": one string a test compares in one assertion. */
export async function callOutcome(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (err) {
    const e = fromConnectError(err);
    return `${e.code}: ${e.message}`;
  }
}
