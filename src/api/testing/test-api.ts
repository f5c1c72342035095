import { z } from "zod";
import { defineResource } from "../../runtime/resource/definition.ts";
import type { ResourceRegistry } from "../../runtime/resource/registry.ts";
import { createRegistry } from "../../runtime/resource/registry.ts";
import { createMemoryState } from "../../runtime/state/backends/memory/memory-state.ts";
import { OtherSpec, TestSpec } from "../../runtime/state/conformance/test-resources.ts";
import type { CoreState } from "../../runtime/state/core-state.ts";
import { withValidation } from "../../runtime/state/validating-state.ts";
import type { ApiTransport, ApiTransportOptions } from "../client/api-transport.ts";
import { createApiTransport } from "../client/api-transport.ts";
import { MachineService } from "../gen/plinth/machine/v1alpha1/machine_pb.ts";
import { ResourceService } from "../gen/plinth/resource/v1alpha1/resource_pb.ts";
import { createResourceService } from "../resource-service.ts";
import type { ApiServer, ApiServerOptions } from "../server.ts";
import { createApiServer } from "../server.ts";
import { createFakeMachineService } from "./fake-machine-service.ts";
import type { TestCert, TestPki } from "./test-pki.ts";

/** A sensitive resource type: only os:admin may read it. */
export const SecretTestSpec = defineResource({
  type: "SecretTestSpec",
  namespace: "secrets",
  aliases: ["sts"],
  sensitivity: "sensitive",
  schema: z.strictObject({ secret: z.string() }),
});

/** A private resource type: the API serves it to no role. */
export const PrivateTestSpec = defineResource({
  type: "PrivateTestSpec",
  namespace: "secrets",
  aliases: ["pts"],
  sensitivity: "private",
  schema: z.strictObject({ key: z.string() }),
});

export function createTestRegistry(): ResourceRegistry {
  return createRegistry([TestSpec, OtherSpec, SecretTestSpec, PrivateTestSpec]);
}

export interface TestApiOptions {
  readonly pki: TestPki;
  /** Names the fake MachineService's replies; default "node". */
  readonly node?: string;
  /** Default: a validating memory state. */
  readonly state?: CoreState;
  readonly maintenance?: boolean;
  readonly fanout?: boolean;
  readonly maxMessageBytes?: number;
  readonly port?: number;
}

export interface TestApi {
  readonly server: ApiServer;
  readonly state: CoreState;
  readonly registry: ResourceRegistry;
  /** A transport presenting the certificate (none when absent); closed with the API. */
  connect(cert?: TestCert, options?: Partial<ApiTransportOptions>): ApiTransport;
  close(): Promise<void>;
}

/** A real API server on 127.0.0.1 with the fake MachineService and a ResourceService. */
export async function startTestApi(options: TestApiOptions): Promise<TestApi> {
  const { pki } = options;
  const registry = createTestRegistry();
  const state = options.state ?? withValidation(createMemoryState(), registry);
  const serverOptions: ApiServerOptions = {
    routes: (router) => {
      router.service(MachineService, createFakeMachineService(options.node ?? "node"));
      router.service(ResourceService, createResourceService({ state, registry }));
    },
    tls: { cert: pki.node.cert, key: pki.node.key, ca: pki.ca, requestClientCert: !options.maintenance },
    listen: { host: "127.0.0.1", port: options.port ?? 0 },
    maintenance: options.maintenance,
    maxMessageBytes: options.maxMessageBytes,
    fanout: options.fanout ? { tls: { cert: pki.node.cert, key: pki.node.key, ca: pki.ca } } : undefined,
  };
  const server = await createApiServer(serverOptions);
  const transports: ApiTransport[] = [];
  return {
    server,
    state,
    registry,
    connect(cert, more = {}) {
      const t = createApiTransport({
        url: server.url,
        ...more,
        tls: { ca: pki.ca, cert: cert?.cert, key: cert?.key, ...more.tls },
      });
      transports.push(t);
      return t;
    },
    async close() {
      for (const t of transports) t.close();
      await server.close();
      await state.close();
    },
  };
}
