import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type GuardedAction, type GuardMember, quorumGuard } from "./quorum-guard.ts";

const member = (n: number, more: Partial<GuardMember> = {}): GuardMember => ({
  id: `a${n}`,
  name: `cp-${n}`,
  isLearner: false,
  healthy: true,
  ...more,
});
const cluster = (size: number) => Array.from({ length: size }, (_, i) => member(i + 1));
const actions: GuardedAction[] = ["reboot", "shutdown", "upgrade", "reset", "leave"];
const returning: GuardedAction[] = ["reboot", "shutdown", "upgrade"];

describe("etcd quorum guard", () => {
  for (const action of actions) {
    describe(action, () => {
      it("allows a node that is no member", () => {
        const d = quorumGuard({ action, selfId: undefined, members: cluster(3) });
        assert.equal(d.allowed, true);
        assert.match(d.reason, /not an etcd member/);
      });

      it("allows a node whose id is not in the list (removed already)", () => {
        assert.equal(quorumGuard({ action, selfId: "zz", members: cluster(2) }).allowed, true);
      });

      it("allows a learner, even in a 2-member cluster with the other down", () => {
        const members = [member(1, { healthy: false, error: "refused" }), member(2, { isLearner: true })];
        const d = quorumGuard({ action, selfId: "a2", members });
        assert.equal(d.allowed, true);
        assert.match(d.reason, /learner/);
      });

      it(
        returning.includes(action)
          ? "allows the only member: it comes back with its data"
          : "refuses the only member: the cluster's data would be gone",
        () => {
          const d = quorumGuard({ action, selfId: "a1", members: cluster(1) });
          assert.equal(d.allowed, returning.includes(action));
          assert.match(d.reason, /only etcd member/);
          if (!d.allowed) assert.match(d.reason, new RegExp(`a ${action} would destroy`));
        },
      );

      it("refuses in a cluster of exactly 2 members, both healthy, naming them", () => {
        const d = quorumGuard({ action, selfId: "a1", members: cluster(2) });
        assert.equal(d.allowed, false);
        assert.match(d.reason, /exactly 2 members/);
        assert.match(d.reason, /cp-1 \(id a1\), cp-2 \(id a2\)/);
        assert.deepEqual(!d.allowed && d.unhealthy, []);
      });

      it("counts only voting members: 2 voters and a learner is still 2", () => {
        const members = [...cluster(2), member(3, { isLearner: true })];
        const d = quorumGuard({ action, selfId: "a1", members });
        assert.equal(d.allowed, false);
        assert.match(d.reason, /exactly 2 members/);
      });

      for (const size of [3, 4, 5, 7]) {
        it(`allows in a healthy cluster of ${size}`, () => {
          const d = quorumGuard({ action, selfId: "a1", members: cluster(size) });
          assert.equal(d.allowed, true);
          assert.match(d.reason, new RegExp(`${size - 1} of ${size} etcd members remain healthy`));
        });

        for (let down = 1; down < size; down++) {
          it(`refuses in a cluster of ${size} with ${down} other member(s) down, naming each`, () => {
            const members = cluster(size).map((m, i) =>
              i >= 1 && i <= down ? { ...m, healthy: false, error: `boom ${i + 1}` } : m,
            );
            const d = quorumGuard({ action, selfId: "a1", members });
            assert.equal(d.allowed, false);
            assert.equal(!d.allowed && d.unhealthy.length, down);
            for (let i = 2; i <= down + 1; i++) {
              assert.match(
                d.reason,
                new RegExp(`cp-${i} \\(id a${i}\\) is down or unhealthy \\(boom ${i}\\)`),
              );
            }
            assert.doesNotMatch(d.reason, /cp-1 /);
          });
        }
      }

      it("allows when only this node is unhealthy: it holds no working vote now", () => {
        const members = cluster(3).map((m) => (m.id === "a1" ? { ...m, healthy: false } : m));
        assert.equal(quorumGuard({ action, selfId: "a1", members }).allowed, true);
      });

      it("refuses when another voting member was added but never started", () => {
        const members = [...cluster(3), member(4, { name: "", healthy: false, error: "not started" })];
        const d = quorumGuard({ action, selfId: "a1", members });
        assert.equal(d.allowed, false);
        assert.match(d.reason, /\(not started\) \(id a4\) has not started/);
      });

      it("ignores an unhealthy learner: it holds no vote", () => {
        const members = [...cluster(3), member(4, { isLearner: true, healthy: false })];
        assert.equal(quorumGuard({ action, selfId: "a1", members }).allowed, true);
      });
    });
  }
});
