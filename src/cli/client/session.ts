import { type CallOptions, type Client, createClient } from "@connectrpc/connect";
import { createApiTransport } from "../../api/client/api-transport.ts";
import { nodesHeader, nodeUrl } from "../../api/fanout/node-address.ts";
import { MachineService } from "../../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService } from "../../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { decodeCredential, selectContext } from "../../config/client-config.ts";
import { PlinthError } from "../../errors/plinth-error.ts";
import { describeCertificate } from "../../pki/index.ts";
import type { CliIo } from "../cli-io.ts";
import { plinthconfigPath, readPlinthconfig } from "../plinthconfig-file.ts";
import type { GlobalFlags } from "./global-flags.ts";

export interface ApiSession {
  readonly machine: Client<typeof MachineService>;
  readonly resources: Client<typeof ResourceService>;
  /** Nodes named with -n (or the context); empty: the endpoint answers for itself. */
  readonly nodes: readonly string[];
  /** Headers for every call: the target nodes. */
  readonly callOptions: CallOptions;
  readonly endpoint: string;
  /** "role os:reader" of the client certificate, for error messages. */
  readonly identity: string;
  close(): void;
}

export const defaultApiPort = 50000;

/**
 * Connects to the first endpoint of the context (or of -e) with the context's client
 * certificate; `insecure` (maintenance mode) sends no certificate and accepts any server.
 */
export async function openSession(
  flags: GlobalFlags,
  io: CliIo,
  options: { insecure?: boolean } = {},
): Promise<ApiSession> {
  let endpoints = flags.endpoints ?? [];
  let nodes = flags.nodes ?? [];
  let tls: { ca?: string; cert?: string; key?: string; insecure?: boolean } = { insecure: true };
  let identity = "no client certificate (--insecure)";
  if (!options.insecure) {
    const path = plinthconfigPath(flags.plinthconfig, io);
    const config = await readPlinthconfig(path);
    const { name, context } = selectContext(config, flags.context);
    if (endpoints.length === 0) endpoints = context.endpoints;
    if (nodes.length === 0) nodes = context.nodes ?? [];
    tls = {
      ca: decodeCredential(context.ca),
      cert: decodeCredential(context.crt),
      key: decodeCredential(context.key),
    };
    const info = describeCertificate(tls.cert!);
    identity = `role ${info.organization.join(", ") || "(none)"} (context ${name})`;
  }
  const endpoint = endpoints[0];
  if (!endpoint) {
    throw new PlinthError(
      "invalid_argument",
      options.insecure
        ? "--insecure needs the machine's address: pass -e/--endpoints"
        : "no endpoint: pass -e/--endpoints or set one with 'plinth config endpoint'",
    );
  }
  const url = nodeUrl(endpoint, defaultApiPort);
  const api = createApiTransport({ url, tls });
  const headers = nodes.length > 0 ? { [nodesHeader]: nodes.join(",") } : undefined;
  return {
    machine: createClient(MachineService, api.transport),
    resources: createClient(ResourceService, api.transport),
    nodes,
    callOptions: headers ? { headers } : {},
    endpoint: url,
    identity,
    close: () => api.close(),
  };
}
