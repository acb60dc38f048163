/** Enrollment: trade the portal's single-use token for a machine identity and the customer's data key. */
import { hostname } from "node:os";
import { createAgentClient } from "@tidemark/agent-protocol";
import { osInfo } from "./agent";
import { newSpoolKek, StateDir } from "./state";
import { AGENT_VERSION } from "./version";
import { stat } from "node:fs/promises";

export async function enroll(opts: { serverUrl: string; token: string; name?: string; stateDir: string; fetch?: typeof fetch }): Promise<{ machineId: string; customerId: string }> {
  const state = new StateDir(opts.stateDir);
  const already = await stat(state.machinePath).then(
    () => true,
    () => false,
  );
  if (already) throw new Error(`${state.machinePath} already exists: this state directory is enrolled (remove it to enroll again; re-enrolling a machine keeps its history on the server)`);
  const api = createAgentClient({ serverUrl: opts.serverUrl, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
  const name = opts.name ?? hostname();
  const r = await api.enroll({ token: opts.token, name, hostname: hostname(), os: osInfo(), agentVersion: AGENT_VERSION });
  await state.writeMachine({
    v: 1,
    serverUrl: opts.serverUrl,
    name,
    machineId: r.machineId,
    machineSecret: r.machineSecret,
    customerId: r.customerId,
    dataKey: r.dataKey,
    spoolKek: newSpoolKek(),
    repository: r.repository,
    policy: r.policy,
    // With the ETag the first heartbeat fetches nothing; an older server sends none (one GET then).
    ...(r.policyEtag ? { policyEtag: r.policyEtag } : {}),
    enrolledAt: new Date().toISOString(),
  });
  return { machineId: r.machineId, customerId: r.customerId };
}
