import type { Controller } from "../../../runtime/controller/controller.ts";
import { FileSpec, idFromText } from "../../resources/index.ts";
import { type ConfigControllerOptions, createConfigController } from "./config-controller.ts";

/** The Files document → one FileSpec per path. */
export function createFileConfigController(options: ConfigControllerOptions): Controller {
  return createConfigController("FileConfigController", {
    ...options,
    output: FileSpec,
    *specs(config) {
      for (const f of config.find("Files")?.files ?? []) {
        yield [idFromText(f.path), { path: f.path, content: f.content, mode: f.mode, op: f.op }];
      }
    },
  });
}
