// A writer for the crash test: opens the state database given as argv[2], continues the crash
// plan from the revision it finds, keeping argv[3] writes in flight, and prints `ack <n>` once
// operation n is acknowledged. It runs until it is killed.
import { TestSpec } from "../../conformance/test-resources.ts";
import { applyOperation, modelOf, operation, revisionOf, runOperation } from "./crash-plan.fixture.ts";
import { createSqliteState } from "./sqlite-state.ts";

const [path, windowArg] = process.argv.slice(2);
const window = Number(windowArg ?? 8);
const state = createSqliteState({ path: path! });
const model = modelOf(await state.list(TestSpec.kind()));
let n = await revisionOf(state);
const last = n + 1_000_000;
let inFlight = 0;

function pump(): void {
  while (inFlight < window && n < last) {
    const op = operation(++n, model);
    const acked = runOperation(state, op, model);
    applyOperation(model, op);
    inFlight++;
    acked.then(
      () => {
        // The next write is issued once this ack has reached the pipe: a write Node still holds
        // (the reader was slow) dies with the process, and the test would count its operation
        // as never acknowledged yet find more than its window beyond the last ack it saw.
        process.stdout.write(`ack ${op.n}\n`, () => {
          inFlight--;
          pump();
        });
      },
      (err: unknown) => {
        process.stderr.write(`operation ${op.n} (${op.kind} ${op.id}) failed: ${String(err)}\n`);
        process.exit(2);
      },
    );
  }
  if (inFlight === 0) void state.close();
}

process.stdout.write(`ready ${n}\n`);
pump();
