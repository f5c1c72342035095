import type { Command } from "commander";
import { WatchEventType } from "../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { resourceFromWire } from "../api/resource-wire.ts";
import type { AnyResource } from "../runtime/resource/resource.ts";
import { answered, nodeOf, remote } from "./client/remote-call.ts";
import type { ApiSession } from "./client/session.ts";
import { readStream } from "./client/stream.ts";
import { withSession } from "./client/with-session.ts";
import {
  type ColumnSpec,
  type OutputFormat,
  type PrintableResource,
  parseOutputFormat,
  renderResources,
} from "./output/resource-output.ts";

interface GetFlags {
  namespace?: string;
  output: OutputFormat;
  watch?: boolean;
}

const eventNames: Partial<Record<WatchEventType, string>> = {
  [WatchEventType.CREATED]: "created",
  [WatchEventType.UPDATED]: "updated",
  [WatchEventType.DESTROYED]: "destroyed",
};

/** The print columns of a type, from the machine's resource definitions. */
async function columnsFor(s: ApiSession, type: string): Promise<ColumnSpec[]> {
  try {
    const res = await s.resources.list({ type: "ResourceDefinition" });
    const wanted = type.toLowerCase();
    for (const reply of res.messages) {
      for (const r of reply.resources) {
        const spec = resourceFromWire(r).spec as {
          type: string;
          aliases: string[];
          printColumns: ColumnSpec[];
        };
        if (spec.type.toLowerCase() === wanted || spec.aliases.some((a) => a.toLowerCase() === wanted)) {
          return spec.printColumns;
        }
      }
    }
  } catch {
    // Columns are a nicety; the resources themselves still print.
  }
  return [];
}

/** `plinth get TYPE [ID]`: reads resources from the target nodes. */
export function registerGet(program: Command): void {
  program
    .command("get")
    .description("get resources by type (or alias) and optionally id; 'get rd' lists the types")
    .argument("<type>", "resource type or alias")
    .argument("[id]", "resource id")
    .option("--namespace <ns>", "namespace (default: the type's)")
    .option("-o, --output <format>", "table, yaml, json or jsonpath=EXPR", parseOutputFormat, {
      kind: "table",
    })
    .option("-w, --watch", "keep printing changes")
    .action(async (type: string, id: string | undefined, flags: GetFlags, cmd: Command) => {
      await withSession(cmd, async (s) => {
        const columns = flags.output.kind === "table" ? await columnsFor(s, type) : [];
        const showNode = s.nodes.length > 0;
        const namespace = flags.namespace ?? "";
        if (flags.watch) return watch(s, { type, id: id ?? "", namespace }, flags.output, columns, showNode);
        const items: PrintableResource[] = [];
        if (id) {
          const res = await remote(s, () => s.resources.get({ type, id, namespace }, s.callOptions));
          for (const r of answered(res.messages))
            items.push({ node: nodeOf(r, s), resource: resourceFromWire(r.resource) });
        } else {
          const res = await remote(s, () => s.resources.list({ type, namespace }, s.callOptions));
          for (const r of answered(res.messages)) {
            for (const wire of r.resources)
              items.push({ node: nodeOf(r, s), resource: resourceFromWire(wire) });
          }
        }
        if (items.length > 0 || flags.output.kind === "table") {
          process.stdout.write(renderResources(items, flags.output, { columns, showNode }));
        }
      });
    });
}

async function watch(
  s: ApiSession,
  req: { type: string; id: string; namespace: string },
  output: OutputFormat,
  columns: readonly ColumnSpec[],
  showNode: boolean,
): Promise<void> {
  let header = true;
  await readStream(
    s,
    (signal) => s.resources.watch({ ...req, bootstrapContents: true }, { ...s.callOptions, signal }),
    (m, node) => {
      const event = eventNames[m.eventType];
      if (!event || !m.resource) return;
      const item: PrintableResource = { node, resource: resourceFromWire(m.resource) as AnyResource, event };
      process.stdout.write(renderResources([item], output, { columns, showNode, header }));
      header = false;
    },
  );
}
