/**
 * The agent API over fetch-style Request/Response, so Next route handlers
 * are one line each and tests call exactly what production serves. Order per
 * request: rate limit → credential → JSON → zod (the protocol's own schemas)
 * → domain function. Enrolment lives in ./enroll (its own package entry).
 */
import { routes } from "@tidemark/agent-protocol";
import { clientIp } from "@tidemark/db";
import { commitPoint, heartbeat, missingChunks, nextRestoreJob, recordEvents, reportPack, restoreProgress, restoreResult, uploadSession } from "../agent";
import { tooManyRequests } from "../errors";
import { authenticateMachine, type MachineContext } from "../machine-auth";
import { effectivePolicy } from "../policy";
import type { AgentServices } from "../services";
import { type AgentHandler, body, guarded, jobId, json, type RouteParams } from "./common";

/** What a host (the portal) needs to serve the agent API. */
export { createAgentServices, type AgentServices } from "../services";
export { createBlobAccount, type BlobAccountOptions } from "../blob-account";
export { kekFrom } from "../kek";
export type { AgentHandler, RouteParams } from "./common";

export type AgentRouteName = keyof typeof routes;
export type MachineRouteName = Exclude<AgentRouteName, "enroll">;

export function createMachineRoutes(svc: AgentServices): Record<MachineRouteName, AgentHandler> {
  /**
   * Credential first (one primary-key lookup), then the machine's own bucket:
   * keying by the claimed id before authenticating would let anyone who knows
   * a machine id drain that machine's budget. Failed attempts draw from a
   * per-address bucket so floods of forged requests are cut off too.
   */
  const machine = (fn: (m: MachineContext, req: Request, params: RouteParams | undefined) => Promise<Response>) =>
    guarded(svc, async (req, params) => {
      let m: MachineContext;
      try {
        m = await authenticateMachine(svc.database.db, req.headers.get("authorization"));
      } catch (e) {
        const wait = svc.machineLimiter.take(`fail:${clientIp(req.headers) ?? "unknown"}`);
        if (wait !== null) throw tooManyRequests(wait);
        throw e;
      }
      const wait = svc.machineLimiter.take(`m:${m.machineId}`);
      if (wait !== null) throw tooManyRequests(wait);
      return fn(m, req, params);
    });

  const ok = () => json({ ok: true });

  return {
    heartbeat: machine(async (m, req) => json(await heartbeat(svc, m, await body(req, routes.heartbeat.request)))),
    policy: machine(async (m, req) => {
      const { policy, etag } = await effectivePolicy(svc.database.db, m);
      const ifNoneMatch = req.headers.get("if-none-match");
      if (ifNoneMatch && ifNoneMatch.split(",").some((t) => t.trim().replace(/^W\//, "") === etag)) {
        return new Response(null, { status: 304, headers: { etag, "cache-control": "no-store" } });
      }
      return json({ etag, policy }, 200, { etag });
    }),
    uploadSession: machine(async (m) => json(await uploadSession(svc, m))),
    chunksMissing: machine(async (m, req) => {
      const r = await body(req, routes.chunksMissing.request);
      // Answered in the form asked: older agents send and read arrays.
      if (r.ids) return json({ missing: await missingChunks(svc, m, r.ids) });
      return json({ missingHex: (await missingChunks(svc, m, r.idsHex!)).join("") });
    }),
    packs: machine(async (m, req) => json(await reportPack(svc, m, await body(req, routes.packs.request)))),
    points: machine(async (m, req) => {
      const r = await commitPoint(svc, m, await body(req, routes.points.request));
      return json({ pointId: r.pointId }, r.created ? 201 : 200);
    }),
    nextRestoreJob: machine(async (m) => json({ job: await nextRestoreJob(svc, m) })),
    restoreProgress: machine(async (m, req, params) => {
      const id = jobId(params);
      await restoreProgress(svc, m, id, await body(req, routes.restoreProgress.request));
      return ok();
    }),
    restoreResult: machine(async (m, req, params) => {
      const id = jobId(params);
      await restoreResult(svc, m, id, await body(req, routes.restoreResult.request));
      return ok();
    }),
    events: machine(async (m, req) => {
      const { events } = await body(req, routes.events.request);
      await recordEvents(svc, m, events);
      return ok();
    }),
  };
}
