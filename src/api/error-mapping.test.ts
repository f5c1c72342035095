import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorCodes, PlinthError } from "../errors/plinth-error.ts";
import { fromConnectError, toConnectError } from "./error-mapping.ts";

describe("error mapping", () => {
  it("maps every Plinth code to a gRPC code and back, keeping the original as cause", () => {
    for (const code of errorCodes) {
      const original = new PlinthError(code, "m", { details: { n: 1 } });
      const wire = toConnectError(original);
      assert.equal(wire.cause, original);
      assert.notEqual(wire.code, Code.Unknown, code);
      const back = fromConnectError(wire);
      assert.equal(back.code, code);
      assert.deepEqual(back.details, { n: 1 });
      assert.equal(back.cause, wire);
    }
  });

  it("keeps the three conflicts apart although gRPC has fewer codes", () => {
    const codes = (["conflict", "owner_conflict", "phase_conflict"] as const).map(
      (c) => fromConnectError(toConnectError(new PlinthError(c, "m"))).code,
    );
    assert.deepEqual(codes, ["conflict", "owner_conflict", "phase_conflict"]);
  });

  it("reads errors without a Plinth detail by their gRPC code", () => {
    const cases: [Code, string][] = [
      [Code.Aborted, "conflict"],
      [Code.Unavailable, "unavailable"],
      [Code.OutOfRange, "history_lost"],
      [Code.Unknown, "internal"],
      [Code.DataLoss, "internal"],
      [Code.ResourceExhausted, "resource_exhausted"],
    ];
    for (const [code, expected] of cases) {
      const err = fromConnectError(new ConnectError("from elsewhere", code));
      assert.equal(err.code, expected, Code[code]);
      assert.equal(err.message, "from elsewhere");
    }
  });

  it("turns an abort into canceled and anything else into internal", () => {
    const abort = new DOMException("stop", "AbortError");
    assert.equal(toConnectError(abort).code, Code.Canceled);
    assert.equal(fromConnectError(abort).code, "canceled");
    assert.equal(toConnectError("boom").message, "[internal] internal error: boom");
  });
});
