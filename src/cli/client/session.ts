import { type CallOptions, type Client, createClient } from "@connectrpc/connect";
import { createApiTransport } from "../../api/client/api-transport.ts";
import { nodesHeader, nodeUrl } from "../../api/fanout/node-address.ts";
import { MachineService } from "../../api/gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService } from "../../api/gen/plinth/resource/v1alpha1/resource_pb.ts";
import { contextTls, selectContext } from "../../config/client-config.ts";
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

export interface ClientTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly insecure?: boolean;
}

export interface Credentials {
  readonly contextName: string;
  readonly endpoints: readonly string[];
  readonly nodes: readonly string[];
  readonly tls: ClientTls;
  /** "role os:reader (context demo)", for error messages. */
  readonly identity: string;
}

/** The selected context of the client config: where to go and the certificate to show. */
export async function loadCredentials(flags: GlobalFlags, io: CliIo): Promise<Credentials> {
  const config = await readPlinthconfig(plinthconfigPath(flags.plinthconfig, io));
  const { name, context } = selectContext(config, flags.context);
  const tls = contextTls(context);
  const info = describeCertificate(tls.cert);
  return {
    contextName: name,
    endpoints: context.endpoints,
    nodes: context.nodes ?? [],
    tls,
    identity: `role ${info.organization.join(", ") || "(none)"} (context ${name})`,
  };
}

/**
 * Connects to the first endpoint of the context (or of -e) with the context's client
 * certificate; `insecure` (maintenance mode) sends no certificate and accepts any server.
 */
export async function openSession(
  flags: GlobalFlags,
  io: CliIo,
  options: { insecure?: boolean } = {},
): Promise<ApiSession> {
  let endpoints: readonly string[] = flags.endpoints ?? [];
  let nodes: readonly string[] = flags.nodes ?? [];
  let tls: ClientTls = { insecure: true };
  let identity = "no client certificate (--insecure)";
  if (!options.insecure) {
    const creds = await loadCredentials(flags, io);
    if (endpoints.length === 0) endpoints = creds.endpoints;
    if (nodes.length === 0) nodes = creds.nodes;
    tls = creds.tls;
    identity = creds.identity;
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
