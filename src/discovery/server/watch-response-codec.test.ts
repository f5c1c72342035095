import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { WatchResponseSchema } from "../../api/gen/sidero/discovery/server/cluster_pb.ts";
import { encodeWatchResponse } from "./watch-response-codec.ts";

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe("encodeWatchResponse", () => {
  const cases = {
    "an empty snapshot": create(WatchResponseSchema, {}),
    "a deletion (id only)": create(WatchResponseSchema, { affiliates: [{ id: "node-1" }], deleted: true }),
    "an affiliate with data and endpoints": create(WatchResponseSchema, {
      affiliates: [{ id: "n", data: bytes(300, 7), endpoints: [bytes(16, 1), bytes(32, 2)] }],
    }),
    "a snapshot of several, with non-ASCII ids, empty data and an empty endpoint": create(
      WatchResponseSchema,
      {
        affiliates: [
          { id: "nœud-é", data: bytes(2048, 9) },
          { id: "only-endpoints", endpoints: [new Uint8Array()] },
          { id: "" },
          {
            id: "x".repeat(256),
            data: bytes(127, 1),
            endpoints: Array.from({ length: 64 }, (_, i) => bytes(32, i)),
          },
        ],
      },
    ),
  };
  for (const [what, message] of Object.entries(cases)) {
    it(`writes the same bytes as the generic encoder: ${what}`, () => {
      const ours = encodeWatchResponse(message);
      assert.deepEqual(
        Buffer.from(ours).toString("hex"),
        Buffer.from(toBinary(WatchResponseSchema, message)).toString("hex"),
      );
      assert.deepEqual(fromBinary(WatchResponseSchema, new Uint8Array(ours)), message);
      const reserved = encodeWatchResponse(message, 5);
      assert.deepEqual([...reserved.subarray(0, 5)], [0, 0, 0, 0, 0]);
      assert.deepEqual(reserved.subarray(5), ours, "room reserved in front, the same message after it");
    });
  }
});
