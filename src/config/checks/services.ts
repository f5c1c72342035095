import type { SemanticCheck } from "./check-context.ts";

/** Services the agent runs itself, which extra services may depend on. */
export const builtinServices: readonly string[] = ["etcd"];

/** Every dependency names a service that exists, and dependencies have no cycle. */
export const checkServices: SemanticCheck = (ctx) => {
  const services = ctx.all("Service");
  const byName = new Map(services.map((s) => [s.value.name, s]));
  for (const service of services) {
    if (builtinServices.includes(service.value.name)) {
      ctx.report(service, ["name"], `'${service.value.name}' is the name of a built-in service`);
    }
    service.value.dependsOn.forEach((dep, i) => {
      if (!byName.has(dep) && !builtinServices.includes(dep)) {
        ctx.report(service, ["dependsOn", i], `no Service named '${dep}' in this config`);
      }
    });
  }
  // Depth-first search for a cycle; each one is reported once, at its first member in file order.
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      const cycle = [...trail.slice(trail.indexOf(name)), name];
      ctx.report(byName.get(name), ["dependsOn"], `dependency cycle: ${cycle.join(" -> ")}`);
      return;
    }
    state.set(name, "visiting");
    for (const dep of byName.get(name)?.value.dependsOn ?? []) {
      if (byName.has(dep)) visit(dep, [...trail, name]);
    }
    state.set(name, "done");
  };
  for (const service of services) visit(service.value.name, []);
};
