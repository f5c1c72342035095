import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { setTimeout } from "node:timers/promises";
import type { ControllerRuntime } from "../../../runtime/controller/controller-runtime.ts";
import { createControllerRuntime } from "../../../runtime/controller/controller-runtime.ts";
import { createRegistry } from "../../../runtime/resource/registry.ts";
import type { Pointer, Resource } from "../../../runtime/resource/resource.ts";
import { createMemoryState } from "../../../runtime/state/backends/memory/memory-state.ts";
import { type State, wrapCore } from "../../../runtime/state/state.ts";
import { withValidation } from "../../../runtime/state/validating-state.ts";
import { storeConfig } from "../../config-store.ts";
import {
  AddressSpec,
  agentResources,
  FileSpec,
  HostnameSpec,
  LinkSpec,
  ResolverSpec,
  RouteSpec,
  StaticHostSpec,
  SysctlSpec,
  textFromId,
} from "../../resources/index.ts";
import { createAddressConfigController } from "./address-config-controller.ts";
import { createFileConfigController } from "./file-config-controller.ts";
import { createHostnameConfigController } from "./hostname-config-controller.ts";
import { createLinkConfigController } from "./link-config-controller.ts";
import { createResolverConfigController } from "./resolver-config-controller.ts";
import { createRouteConfigController } from "./route-config-controller.ts";
import { createStaticHostsConfigController } from "./static-hosts-config-controller.ts";
import { createSysctlConfigController } from "./sysctl-config-controller.ts";

const full = `apiVersion: v1alpha1
kind: Hostname
hostname: node-1
---
apiVersion: v1alpha1
kind: StaticHosts
hosts:
  - ip: 10.5.0.2
    aliases: [cp-1, cp-1.demo.local]
  - ip: "fd00:0:0::2"
    aliases: [cp-1-v6]
---
apiVersion: v1alpha1
kind: Resolvers
nameservers: [1.1.1.1]
---
apiVersion: v1alpha1
kind: Sysctls
sysctls:
  net.ipv4.ip_forward: 1
  net/ipv4/conf/eth0.100/rp_filter: "2"
---
apiVersion: v1alpha1
kind: Files
files:
  - path: /etc/motd
    content: "hello\\n"
    mode: "0600"
  - path: /var/lib/app/conf
    op: create
---
apiVersion: v1alpha1
kind: Link
name: br0
type: bridge
mtu: 1400
bridge:
  ports: [eth1]
---
apiVersion: v1alpha1
kind: Link
name: eth0.100
type: vlan
vlan: { parent: eth0, id: 100 }
---
apiVersion: v1alpha1
kind: Address
name: br0
addresses: [10.9.0.2/24, "FD00:9:0::2/64"]
---
apiVersion: v1alpha1
kind: Route
name: default
gateway: 10.9.0.1
---
apiVersion: v1alpha1
kind: Route
name: v6
destination: "fd00:10::/48"
link: br0
metric: 10
`;

describe("host config controllers", () => {
  let state: State;
  let rt: ControllerRuntime;
  const wait = <S>(ptr: Pointer<S>, p: (r: Resource<S> | undefined) => boolean) =>
    state.waitFor(ptr, p, { signal: AbortSignal.timeout(5000) });

  beforeEach(async () => {
    state = wrapCore(withValidation(createMemoryState(), createRegistry(agentResources)));
    rt = createControllerRuntime({ state });
    const mode = { mode: "host" } as const;
    rt.register(
      createHostnameConfigController(mode),
      createStaticHostsConfigController(mode),
      createResolverConfigController(mode),
      createSysctlConfigController(mode),
      createFileConfigController(mode),
      createLinkConfigController(mode),
      createAddressConfigController(mode),
      createRouteConfigController(mode),
    );
    await rt.start();
  });
  afterEach(async () => {
    await rt.stop();
    await state.close();
  });

  it("turn config documents into specs, with canonical keys and addresses", async () => {
    await storeConfig(state, { yaml: full, complete: false, mode: "auto", appliedBy: "test" });
    const route = await wait(RouteSpec.ptr("v6"), (r) => r !== undefined);
    assert.deepEqual(route?.spec, { destination: "fd00:10::/48", link: "br0", metric: 10, family: 6 });
    assert.deepEqual((await state.get(RouteSpec.ptr("default"))).spec, {
      destination: "0.0.0.0/0",
      gateway: "10.9.0.1",
      metric: 1024,
      family: 4,
    });
    assert.deepEqual((await wait(HostnameSpec.ptr("hostname"), Boolean))?.spec, { hostname: "node-1" });
    assert.deepEqual((await wait(StaticHostSpec.ptr("fd00:0:0::2"), Boolean))?.spec.aliases, ["cp-1-v6"]);
    assert.deepEqual((await wait(ResolverSpec.ptr("resolvers"), Boolean))?.spec, {
      nameservers: ["1.1.1.1"],
      searchDomains: [],
    });
    assert.deepEqual((await wait(SysctlSpec.ptr("net.ipv4.ip_forward"), Boolean))?.spec, {
      key: "net.ipv4.ip_forward",
      value: "1",
    });
    const slashKey = "net.ipv4.conf.eth0/100.rp_filter";
    const rp = await wait(SysctlSpec.ptr("net.ipv4.conf.eth0%2F100.rp_filter"), Boolean);
    assert.equal(rp?.spec.key, slashKey);
    const motd = await wait(FileSpec.ptr("%2Fetc%2Fmotd"), Boolean);
    assert.deepEqual(motd?.spec, { path: "/etc/motd", content: "hello\n", mode: 0o600, op: "overwrite" });
    assert.equal(textFromId(motd!.metadata.id), "/etc/motd");
    assert.equal((await state.get(FileSpec.ptr("%2Fvar%2Flib%2Fapp%2Fconf"))).spec.op, "create");
    assert.deepEqual((await wait(LinkSpec.ptr("br0"), Boolean))?.spec, {
      name: "br0",
      type: "bridge",
      up: true,
      mtu: 1400,
      bridge: { ports: ["eth1"] },
    });
    assert.deepEqual((await state.get(LinkSpec.ptr("eth0.100"))).spec.vlan, { parent: "eth0", id: 100 });
    // ':' is allowed in ids and stays as it is.
    const ids = (await state.list(AddressSpec.kind())).map((r) => r.metadata.id).sort();
    assert.deepEqual(ids, ["br0%2F10.9.0.2%2F24", "br0%2Ffd00:9::2%2F64"]);
    assert.deepEqual((await state.get(AddressSpec.ptr("br0%2Ffd00:9::2%2F64"))).spec, {
      link: "br0",
      address: "fd00:9::2/64",
      family: 6,
    });
  });

  it("tear down the specs of documents removed from the config", async () => {
    await storeConfig(state, { yaml: full, complete: false, mode: "auto", appliedBy: "test" });
    await wait(RouteSpec.ptr("v6"), Boolean);
    const kept = full.split("---\n").slice(0, 1).join("---\n");
    await storeConfig(state, { yaml: kept, complete: false, mode: "auto", appliedBy: "test" });
    const defs = [StaticHostSpec, ResolverSpec, SysctlSpec, FileSpec, LinkSpec, AddressSpec, RouteSpec];
    const left = async () => {
      const ids = await Promise.all(
        defs.map(async (d) => (await state.list(d.kind())).map((r) => r.metadata.id)),
      );
      return ids.flat();
    };
    const deadline = Date.now() + 5000;
    while ((await left()).length > 0 && Date.now() < deadline) await setTimeout(10);
    assert.deepEqual(await left(), [], "specs left behind");
    assert.equal((await state.get(HostnameSpec.ptr("hostname"))).spec.hostname, "node-1");
  });
});
