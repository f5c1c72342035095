import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { after, before, describe, it } from "node:test";
import { createSandbox, type Sandbox } from "./sandbox.ts";

describe("test sandbox", () => {
  let box: Sandbox;
  const hostEtcHostname = readFileSync("/etc/hostname", "utf8");
  const hostForward = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8");
  before(async () => {
    box = await createSandbox({ name: "box-1" });
  });
  after(async () => {
    await box.destroy();
  });

  it("has its own hostname, /etc, sysctls and links", async () => {
    assert.equal((await box.exec("hostname", [])).stdout.trim(), "box-1");
    await box.exec("sh", ["-c", "echo changed > /etc/motd-plinth-test && echo box-2 > /etc/hostname"]);
    await box.exec("sysctl", ["-w", "net.ipv4.ip_forward=1"]);
    await box.exec("ip", ["link", "add", "br-test0", "type", "bridge"]);
    assert.equal((await box.exec("cat", ["/proc/sys/net/ipv4/ip_forward"])).stdout.trim(), "1");
    assert.match((await box.exec("ip", ["-json", "link"])).stdout, /br-test0/);
    // The machine running the tests is untouched.
    assert.notEqual(hostname(), "box-1");
    assert.equal(readFileSync("/etc/hostname", "utf8"), hostEtcHostname);
    assert.equal(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8"), hostForward);
    assert.throws(() => readFileSync("/etc/motd-plinth-test"), /ENOENT/);
    assert.doesNotMatch(execFileSync("ip", ["-json", "link"], { encoding: "utf8" }), /br-test0/);
  });

  it("runs the node host adapter inside, for controllers driven from outside", async () => {
    const host = await box.startHost();
    try {
      await host.setHostname("box-3");
      await host.writeFileAtomic("/etc/plinth-host-test", "inside\n");
      await host.writeSysctl("net.ipv4.ip_forward", "1");
      assert.equal((await box.exec("hostname", [])).stdout.trim(), "box-3");
      assert.equal((await box.exec("cat", ["/etc/plinth-host-test"])).stdout, "inside\n");
      assert.match(JSON.stringify(await host.ipJson(["link"])), /br-test0/);
      assert.equal(await host.readSysctl("net.ipv4.ip_forward"), "1");
      assert.notEqual(hostname(), "box-3");
      assert.throws(() => readFileSync("/etc/plinth-host-test"), /ENOENT/);
      assert.equal(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8"), hostForward);
    } finally {
      host.close();
    }
  });
});
