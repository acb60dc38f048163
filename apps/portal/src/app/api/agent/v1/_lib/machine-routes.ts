import { createMachineRoutes, type AgentServices, type MachineRouteName } from "@tidemark/backup/http";
import { nextRoute } from "./agent-api";

const routes = new WeakMap<AgentServices, ReturnType<typeof createMachineRoutes>>();

/** A Next handler for one authenticated agent route (bearer machine credential). */
export function agentRoute(name: MachineRouteName) {
  return nextRoute((svc) => {
    let r = routes.get(svc);
    if (!r) routes.set(svc, (r = createMachineRoutes(svc)));
    return r[name];
  });
}
