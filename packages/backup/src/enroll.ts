/**
 * Enrolment: a single-use, expiring token (claimed by the control plane's
 * enrollMachine) becomes a machine credential plus the customer's data key.
 *
 * Re-enrolment keeps history: if the token's customer already has a machine
 * with the same name (case-insensitive), that machine gets the new secret
 * (any old credential stops working, a revocation is lifted) and the row
 * enrollMachine just created is dropped, so recovery points, restore jobs
 * and events stay attached to one machine.
 */
import { type EnrollRequest, type EnrollResponse, repositoryConfigSchema } from "@tidemark/agent-protocol";
import { auditWith, enrollMachine, EnrollmentRefused, hashToken, type Tx, schema, scopeToCustomer } from "@tidemark/db";
import { and, eq, ne, sql } from "drizzle-orm";
import { AgentError } from "./errors";
import { ensureCustomerRepository } from "./keys";
import { effectivePolicy } from "./policy";
import type { AgentServices } from "./services";

export type RequestMeta = { ip: string | null; userAgent: string | null };

const osLabel = (platform: EnrollRequest["os"]["platform"]) =>
  ({ win32: "windows", linux: "linux", darwin: "macos", other: "other" })[platform];

export async function enrollAgent(svc: AgentServices, req: EnrollRequest, meta: RequestMeta): Promise<EnrollResponse> {
  return svc.database.db.transaction(async (t) => {
    const tx = t as Tx;
    const audit = auditWith(tx, { userId: null, email: null, ...meta });
    let enrolled;
    try {
      enrolled = await enrollMachine(tx, audit, req.token, { name: req.name, os: osLabel(req.os.platform), agentVersion: req.agentVersion });
    } catch (e) {
      // Used, expired, revoked or unknown: retrying cannot help, so it is a credential failure.
      if (e instanceof EnrollmentRefused) throw new AgentError(401, "enrollment_token_rejected", (e as Error).message);
      throw e;
    }
    const scope = { mspId: enrolled.mspId, customerId: enrolled.customerId };
    let machineId = enrolled.machineId;
    const [existing] = await tx
      .select({ id: schema.machines.id })
      .from(schema.machines)
      .where(and(scopeToCustomer(schema.machines, scope), sql`lower(${schema.machines.name}) = lower(${req.name})`, ne(schema.machines.id, enrolled.machineId)))
      .orderBy(schema.machines.enrolledAt)
      .limit(1);
    if (existing) {
      const now = new Date();
      await tx
        .update(schema.machines)
        .set({ secretHash: hashToken(enrolled.secret), os: osLabel(req.os.platform), agentVersion: req.agentVersion, lastSeenAt: now, enrolledAt: now })
        .where(eq(schema.machines.id, existing.id));
      await tx.update(schema.enrollmentTokens).set({ usedByMachineId: existing.id }).where(eq(schema.enrollmentTokens.usedByMachineId, enrolled.machineId));
      await tx.delete(schema.machines).where(eq(schema.machines.id, enrolled.machineId));
      await audit({ ...scope, action: "machine.reenroll", targetType: "machine", targetId: existing.id, metadata: { name: req.name, hostname: req.hostname, discardedMachineId: enrolled.machineId } });
      machineId = existing.id;
    }
    const agentRow = { hostname: req.hostname, osVersion: `${req.os.platform} ${req.os.release} ${req.os.arch}`, agentVersion: req.agentVersion, revokedAt: null };
    await tx
      .insert(schema.machineAgents)
      .values({ machineId, ...scope, ...agentRow })
      .onConflictDoUpdate({ target: schema.machineAgents.machineId, set: { ...agentRow, enrollments: sql`${schema.machineAgents.enrollments} + 1` } });

    // Inside the transaction: if storage is down the token stays unused and the agent can simply retry.
    const repo = await ensureCustomerRepository(tx, svc.kek, svc.blobs, scope);
    // The same ETag GET policy gives: the agent's first heartbeat then has nothing to fetch.
    const { policy, etag } = await effectivePolicy(tx, { ...scope, machineId, name: req.name });
    return {
      machineId,
      machineSecret: enrolled.secret,
      customerId: scope.customerId,
      dataKey: repo.dataKey.toString("base64"),
      repository: { container: repo.container, blobEndpoint: svc.blobs.blobEndpoint, config: repositoryConfigSchema.parse(repo.config) },
      policy,
      policyEtag: etag,
    };
  });
}
