// Run as its own process by etcd-state.test.ts: another process writing to a shared etcd state.
// Usage: node etcd-writer.fixture.ts <endpoint> <prefix> <id>
import { TestSpec } from "../../conformance/test-resources.ts";
import { wrapCore } from "../../state.ts";
import { createEtcdState } from "./etcd-state.ts";

const [endpoint, prefix, id] = process.argv.slice(2) as [string, string, string];
const state = wrapCore(createEtcdState({ endpoints: [endpoint], prefix }));
await state.create(TestSpec.make(id, { value: "child", count: 0 }), { owner: "child" });
for (let count = 1; count <= 3; count++) {
  await state.modify(
    TestSpec.ptr(id),
    (d) => {
      d.spec.count = count;
    },
    { owner: "child" },
  );
}
await state.close();
