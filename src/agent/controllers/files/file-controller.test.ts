import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { DriftStatus, FileStatus, idFromText } from "../../resources/index.ts";
import { createFileConfigController } from "../config/file-config-controller.ts";
import { createHostHarness, type HostHarness, snapshotMachine } from "../testing/host-harness.ts";
import { createFileController, fileControllerName } from "./file-controller.ts";

const paths = {
  motd: "/etc/plinth-test-motd",
  conf: "/var/lib/plinth-test/app.conf",
  log: "/etc/plinth-test-append",
  blocked: "/var/ro/plinth-test",
  theirs: "/etc/plinth-test-theirs",
};
const config = `apiVersion: v1alpha1
kind: Files
files:
  - path: ${paths.motd}
    content: "managed\\n"
    mode: "0600"
  - path: ${paths.conf}
    content: "port = 1\\n"
    op: create
  - path: ${paths.log}
    content: "appended\\n"
    op: append
  - path: ${paths.blocked}
    content: "never\\n"
  - path: ${paths.theirs}
    content: "ours\\n"
`;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const ptr = (path: string) => FileStatus.ptr(idFromText(path));

describe("file controller", () => {
  let h: HostHarness;
  let machine: Record<string, unknown>;

  before(async () => {
    machine = await snapshotMachine({ files: Object.values(paths) });
    h = await createHostHarness({
      name: "files-box",
      controllers: (o) => [createFileConfigController({ mode: "netns" }), createFileController(o)],
    });
    await h.sh(`echo first > ${paths.log}`);
    await h.sh(`echo theirs > ${paths.theirs} && chmod 640 ${paths.theirs}`);
    await h.sh("mkdir -p /var/ro && mount --bind /var/ro /var/ro && mount -o remount,bind,ro /var/ro");
  });
  after(() => h.close());

  it("creates, overwrites and appends with modes and hashes, and reports a path it cannot write", async () => {
    await h.apply(config);
    const motd = await h.waitFor(ptr(paths.motd), (r) => r?.spec.exists === true);
    assert.deepEqual(motd?.spec, {
      path: paths.motd,
      op: "overwrite",
      exists: true,
      mode: 0o600,
      size: 8,
      sha256: sha256("managed\n"),
      createdByPlinth: true,
      specHash: motd?.spec.specHash,
    });
    assert.equal(await h.sh(`stat -c %a ${paths.motd} && cat ${paths.motd}`), "600\nmanaged\n");
    const conf = await h.waitFor(ptr(paths.conf), (r) => r?.spec.exists === true);
    assert.equal(conf?.spec.mode, 0o644);
    assert.equal(await h.sh(`cat ${paths.conf}`), "port = 1\n");
    const log = await h.waitFor(ptr(paths.log), (r) => r?.spec.exists === true);
    assert.equal(log?.spec.createdByPlinth, false);
    assert.equal(await h.sh(`cat ${paths.log}`), "first\nappended\n");
    assert.equal(log?.spec.sha256, sha256("first\nappended\n"));

    const theirs = await h.waitFor(ptr(paths.theirs), (r) => r?.spec.exists === true);
    assert.equal(theirs?.spec.createdByPlinth, false);
    assert.equal(theirs?.spec.originalMode, 0o640);
    assert.equal(await h.sh(`cat ${paths.theirs} ${theirs?.spec.backup}`), "ours\ntheirs\n");

    const blocked = await h.waitFor(ptr(paths.blocked), (r) => r?.spec.error !== undefined);
    assert.match(blocked!.spec.error!, /^cannot write \/var\/ro\/plinth-test: EROFS: read-only file system/);
    assert.equal(blocked?.spec.exists, false);
    assert.equal(blocked?.spec.specHash, undefined);
  });

  it("repairs content, mode and missing files, reporting each drift", async () => {
    await h.sh(`echo tampered > ${paths.motd} && chmod 644 ${paths.motd}`);
    await h.sh(`echo 'port = 2' > ${paths.conf}`); // create: the file is the user's once it exists
    await h.sh(`echo rotated > ${paths.log}`);
    h.runtime.trigger(fileControllerName);
    const motd = await h.waitFor(
      DriftStatus.ptr(`file:${idFromText(paths.motd)}`),
      (r) => !!r?.spec.repairedAt,
    );
    assert.equal(motd?.spec.found, "content changed (9 characters)");
    assert.equal(motd?.spec.item, `file ${paths.motd}`);
    const log = await h.waitFor(
      DriftStatus.ptr(`file:${idFromText(paths.log)}`),
      (r) => !!r?.spec.repairedAt,
    );
    assert.equal(log?.spec.found, "content no longer at the end");
    assert.equal(await h.sh(`stat -c %a ${paths.motd} && cat ${paths.motd}`), "600\nmanaged\n");
    assert.equal(await h.sh(`cat ${paths.log}`), "rotated\nappended\n");
    assert.equal(await h.sh(`cat ${paths.conf}`), "port = 2\n");
    assert.equal(await h.state.find(DriftStatus.ptr(`file:${idFromText(paths.conf)}`)), undefined);

    await h.sh(`chmod 640 ${paths.motd} && rm ${paths.conf}`);
    h.runtime.trigger(fileControllerName);
    const mode = await h.waitFor(
      DriftStatus.ptr(`file:${idFromText(paths.motd)}`),
      (r) => r?.spec.count === 2 && !!r.spec.repairedAt,
    );
    assert.equal(mode?.spec.found, "mode 0640");
    const conf = await h.waitFor(
      DriftStatus.ptr(`file:${idFromText(paths.conf)}`),
      (r) => !!r?.spec.repairedAt,
    );
    assert.equal(conf?.spec.found, "missing");
    assert.equal(await h.sh(`stat -c %a ${paths.motd} && cat ${paths.conf}`), "600\nport = 1\n");
  });

  it("undoes its work when the document goes away: created files removed, others as they were", async () => {
    const backup = (await h.state.get(ptr(paths.theirs))).spec.backup;
    await h.apply("apiVersion: v1alpha1\nkind: Hostname\nhostname: files-box\n");
    for (const path of Object.values(paths)) await h.waitFor(ptr(path), (r) => r === undefined);
    assert.equal(
      await h.sh(`ls ${paths.motd} ${paths.conf} 2>&1 || true`).then((t) => t.match(/No such file/g)?.length),
      2,
    );
    // What was appended is taken off the end; the user's own edit stays.
    assert.equal(await h.sh(`cat ${paths.log}`), "rotated\n");
    assert.equal(await h.sh(`stat -c %a ${paths.theirs} && cat ${paths.theirs}`), "640\ntheirs\n");
    assert.equal(await h.sh(`test -e ${backup} && echo kept || echo gone`), "gone\n");
  });

  it("leaves the machine running the tests unchanged", async () => {
    assert.deepEqual(await snapshotMachine({ files: Object.values(paths) }), machine);
  });
});
