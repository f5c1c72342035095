import type { Command } from "commander";
import { Option } from "commander";
import {
  checkPrerequisites,
  installHint,
  installPackages,
  isRoot,
  selectPrerequisites,
} from "../doctor/doctor.ts";
import { type Feature, features } from "../doctor/prerequisites.ts";
import { renderTable } from "./output/table.ts";

interface DoctorFlags {
  install?: boolean;
  json?: boolean;
  feature?: Feature[];
}

/** `plinth doctor`: checks (and with --install, installs) the system programs Plinth needs. */
export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description(
      "check the system programs Plinth needs; --install installs missing ones with apt-get (root)",
    )
    .option("--install", "install missing packages with apt-get (needs root)")
    .option("--json", "print the result as JSON")
    .addOption(
      new Option("--feature <name...>", "check only what these features need").choices([...features]),
    )
    .action(async (flags: DoctorFlags) => {
      process.exitCode = await runDoctor(flags);
    });
}

export async function runDoctor(flags: DoctorFlags): Promise<number> {
  const list = selectPrerequisites(flags.feature);
  let checks = await checkPrerequisites(list);
  let missing = checks.filter((c) => !c.found);
  if (flags.install && missing.length > 0) {
    if (!isRoot()) {
      process.stderr.write(
        `plinth doctor: --install needs root; missing: ${missing.map((m) => m.binary).join(", ")}\n` +
          `  as root run: ${installHint(missing)}\n`,
      );
      return 1;
    }
    await installPackages([...new Set(missing.map((m) => m.aptPackage))], {
      log: (l) => process.stderr.write(`plinth doctor: ${l}\n`),
    });
    checks = await checkPrerequisites(list);
    missing = checks.filter((c) => !c.found);
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ok: missing.length === 0, checks })}\n`);
  } else {
    const rows = checks.map((c) => [
      c.binary,
      c.found ? "found" : "MISSING",
      c.version ?? "-",
      c.aptPackage,
      c.neededBy.join(","),
    ]);
    process.stdout.write(`${renderTable(["PROGRAM", "STATUS", "VERSION", "PACKAGE", "NEEDED BY"], rows)}\n`);
    if (missing.length > 0) {
      process.stdout.write(`\nmissing: ${missing.map((m) => m.binary).join(", ")}\n`);
      process.stdout.write(`install with: plinth doctor --install   (or as root: ${installHint(missing)})\n`);
    }
  }
  return missing.length === 0 ? 0 : 1;
}
