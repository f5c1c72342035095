import type { ControllerContext } from "../../../runtime/controller/controller.ts";
import type { SpecOf } from "../../../runtime/resource/definition.ts";
import type { Host } from "../../host/host.ts";
import { EtcFileStatus } from "../../resources/index.ts";
import { canonical } from "./canonical.ts";
import { openDriftLog } from "./drift-log.ts";
import { compact, fingerprint, messageOf } from "./fingerprint.ts";
import { blockLines, withBlock } from "./managed-block.ts";
import { sha256Hex } from "./sha256.ts";

export interface ManagedFileOptions {
  readonly host: Host;
  readonly path: string;
  /** EtcFileStatus id and drift domain. */
  readonly id: string;
  /** The block's lines, or undefined when no spec asks for a block (it is then removed). */
  readonly lines: readonly string[] | undefined;
  /** Shown on the block's first line. */
  readonly why: string;
  readonly now?: () => Date;
}

/**
 * One reconcile of a file with a managed block: write the block when it differs (a difference
 * under an unchanged spec is drift), remove it when there is no spec, report EtcFileStatus.
 */
export async function reconcileManagedFile(
  ctx: ControllerContext,
  options: ManagedFileOptions,
): Promise<void> {
  const { host, path, id, lines } = options;
  const drift = await openDriftLog(ctx, { domain: "etcfile", now: options.now });
  const previous = (await ctx.find(EtcFileStatus.ptr(id)))?.spec;
  const specHash = lines ? fingerprint(lines) : undefined;
  const out = ctx.track(EtcFileStatus.kind());
  let error: string | undefined;
  let current: string | undefined;
  try {
    current = await host.readFile(path);
    const found = blockLines(current);
    const same = JSON.stringify(found) === JSON.stringify(lines);
    if (!same && (lines !== undefined || current !== undefined)) {
      if (lines && previous?.specHash === specHash) {
        await drift.detected(id, {
          item: path,
          expected: `managed block of ${lines.length} line(s)`,
          found: found ? `managed block changed: ${describeChange(lines, found)}` : "managed block missing",
        });
      }
      const next = withBlock(current, lines, options.why);
      await host.writeFileAtomic(path, next, { mode: (await host.fileMode(path)) ?? 0o644 });
      current = next;
    }
    await drift.inSync(id);
  } catch (err) {
    error = `cannot update ${path}: ${messageOf(err)}`;
    await drift.repairFailed(id, error);
  }
  if (lines !== undefined) {
    const status: SpecOf<typeof EtcFileStatus> = compact({
      path,
      entries: lines.length,
      sha256: current === undefined ? undefined : await sha256Hex(current),
      specHash: error ? undefined : specHash,
      error,
    });
    await out.apply(canonical(EtcFileStatus, id, status));
  }
  await out.cleanup();
}

function describeChange(expected: readonly string[], found: readonly string[]): string {
  const missing = expected.filter((l) => !found.includes(l));
  const extra = found.filter((l) => !expected.includes(l));
  const parts = [
    ...(missing.length ? [`missing ${missing.map((l) => JSON.stringify(l)).join(", ")}`] : []),
    ...(extra.length ? [`unexpected ${extra.map((l) => JSON.stringify(l)).join(", ")}`] : []),
  ];
  return parts.join("; ") || "lines reordered";
}
