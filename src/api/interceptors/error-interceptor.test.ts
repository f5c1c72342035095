import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { errorCodes, PlinthError } from "../../errors/plinth-error.ts";
import { fromConnectError } from "../error-mapping.ts";
import { MachineService } from "../gen/plinth/machine/v1alpha1/machine_pb.ts";
import { createErrorInterceptor } from "./error-interceptor.ts";

/** A MachineService whose Version throws what the test sets, and whose Logs fails mid-stream. */
function failing(error: () => unknown) {
  const transport = createRouterTransport(
    (r) =>
      r.service(MachineService, {
        version: () => {
          throw error();
        },
        async *logs() {
          yield { data: new TextEncoder().encode("first\n") };
          throw error();
        },
      }),
    { router: { interceptors: [createErrorInterceptor()] } },
  );
  return createClient(MachineService, transport);
}

async function caught(p: Promise<unknown>): Promise<PlinthError> {
  try {
    await p;
  } catch (err) {
    return fromConnectError(err);
  }
  assert.fail("the call succeeded");
}

describe("error interceptor", () => {
  for (const code of errorCodes) {
    it(`a PlinthError ${code} reaches the client with its code, message and details`, async () => {
      const client = failing(() => new PlinthError(code, `it went ${code}`, { details: { bookmark: "7" } }));
      const err = await caught(client.version({}));
      assert.equal(err.code, code);
      assert.equal(err.message, `it went ${code}`);
      assert.deepEqual(err.details, { bookmark: "7" });
      assert.ok(err.cause instanceof ConnectError);
    });
  }

  it("translates an error thrown in the middle of a stream", async () => {
    const client = failing(() => new PlinthError("history_lost", "too far behind"));
    const seen: string[] = [];
    const err = await caught(
      (async () => {
        for await (const m of client.logs({})) seen.push(new TextDecoder().decode(m.data));
      })(),
    );
    assert.deepEqual(seen, ["first\n"]);
    assert.equal(err.code, "history_lost");
  });

  it("answers an unexpected error as internal, with its message", async () => {
    const err = await caught(failing(() => new TypeError("x is undefined")).version({}));
    assert.equal(err.code, "internal");
    assert.equal(err.message, "internal error: x is undefined");
  });

  it("passes a ConnectError through as it is", async () => {
    const err = await caught(
      failing(() => new ConnectError("slow down", Code.ResourceExhausted)).version({}),
    );
    assert.equal(err.code, "resource_exhausted");
    assert.equal(err.message, "slow down");
  });
});
