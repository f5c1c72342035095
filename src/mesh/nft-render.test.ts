import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCidr } from "./cidr.ts";
import { renderMeshNftables, renderSetUpdate, steeringSets, tableFingerprint } from "./nft-render.ts";

const cfg = {
  linkName: "plinth-mesh",
  fwmark: 0x20,
  destinations: ["10.0.0.2", "10.0.0.9/24", "fd12::/64", "fd12::5", "fd13::1/128", "10.0.0.2/32"],
  bypass: ["192.168.7.1"],
  mtu: 1420,
};

describe("mesh nftables rendering", () => {
  it("splits destinations by family, canonical, without prefixes nested in others", () => {
    assert.deepEqual(steeringSets(cfg), {
      steer4: ["10.0.0.0/24"],
      steer6: ["fd12::/64", "fd13::1/128"],
      bypass4: ["192.168.7.1/32"],
      bypass6: [],
    });
  });

  it("renders only table inet plinth_mesh: steering marks, the fwmark exemption, MSS clamp", () => {
    const text = renderMeshNftables(cfg);
    assert.deepEqual(
      [...text.matchAll(/^table (\S+ \S+)/gm)].map((m) => m[1]),
      ["inet plinth_mesh"],
    );
    assert.match(text, /meta mark & 0x20 == 0x20 return\n\s+jump steer/);
    assert.match(text, /ip daddr @steer4 meta mark set meta mark \| 0x40/);
    assert.ok(text.indexOf("@bypass4 return") < text.indexOf("@steer4"), "bypass is checked before steering");
    assert.match(text, /oifname "plinth-mesh" meta nfproto ipv4 .* maxseg size set 1380/);
    assert.match(text, /oifname "plinth-mesh" meta nfproto ipv6 .* maxseg size set 1360/);
    assert.match(text, /set steer4 \{ type ipv4_addr; flags interval; elements = \{ 10\.0\.0\.0\/24 \}; \}/);
    assert.ok(text.includes(`comment "${tableFingerprint(cfg, 0x40)}"`));
  });

  it("changes the fingerprint with what shapes the rules, not with the sets", () => {
    const fp = tableFingerprint(cfg, 0x40);
    assert.equal(tableFingerprint({ ...cfg, destinations: [] }, 0x40), fp);
    assert.notEqual(tableFingerprint({ ...cfg, mtu: 1380 }, 0x40), fp);
    assert.notEqual(tableFingerprint(cfg, 0x80), fp);
  });

  it("updates sets in one transaction without touching chains", () => {
    const text = renderSetUpdate(steeringSets(cfg));
    assert.doesNotMatch(text, /chain|table inet plinth_mesh \{/);
    assert.match(
      text,
      /flush set inet plinth_mesh steer6\nadd element inet plinth_mesh steer6 \{ fd12::\/64, fd13::1\/128 \}/,
    );
    assert.match(text, /flush set inet plinth_mesh bypass6\n(?!add)/);
  });

  it("names the bad entry", () => {
    assert.throws(() => steeringSets({ ...cfg, destinations: ["10.0.0.1/33"] }), /'destinations\[0\]'/);
    assert.throws(() => parseCidr("fd00::1/64/2", "x"), /'x' must be a CIDR/);
    assert.equal(parseCidr("fd00:0:0:0:0:0:0:1/64", "x").address, "fd00::");
  });
});
