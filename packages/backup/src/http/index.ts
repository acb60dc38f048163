/**
 * The agent API over fetch-style Request/Response, so Next route handlers
 * are one line each and tests call exactly what production serves. Order per
 * request: rate limit → credential → JSON → zod (the protocol's own schemas)
 * → domain function. Every failure is `{ error: { code, message, missing? } }`.
 */
import { routes } from "@tidemark/agent-protocol";
import { clientIp } from "@tidemark/api";
import { z, ZodError } from "zod";
import { commitPoint, heartbeat, missingChunks, nextRestoreJob, recordEvents, reportPack, restoreProgress, restoreResult, uploadSession } from "../agent";
import { enrollAgent } from "../enroll";
import { AgentError, badRequest, tooManyRequests } from "../errors";
import { authenticateMachine, type MachineContext } from "../machine-auth";
import { effectivePolicy } from "../policy";
import type { AgentServices } from "../services";

export type AgentRouteName = keyof typeof routes;
export type RouteParams = Record<string, string>;
export type AgentHandler = (req: Request, params?: RouteParams) => Promise<Response>;

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  Response.json(body, { status, headers: { "cache-control": "no-store", ...headers } });

function errorResponse(e: AgentError): Response {
  const headers: Record<string, string> = e.extra.retryAfterSeconds ? { "retry-after": String(e.extra.retryAfterSeconds) } : {};
  if (e.status === 401) headers["www-authenticate"] = 'Bearer realm="tidemark-agent"';
  return json({ error: { code: e.code, message: e.message, ...(e.extra.missing ? { missing: e.extra.missing } : {}) } }, e.status, headers);
}

function describe(e: ZodError): string {
  return e.issues
    .slice(0, 5)
    .map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`)
    .join("; ");
}

async function body<S extends z.ZodType>(req: Request, schema: S): Promise<z.output<S>> {
  let raw: unknown;
  try {
    raw = await req.json();
  } catch {
    throw badRequest("invalid_json", "The request body is not valid JSON");
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw badRequest("invalid_request", `Invalid request: ${describe(parsed.error)}`);
  return parsed.data;
}

const jobIdSchema = z.uuid();
function jobId(params: RouteParams | undefined): string {
  const parsed = jobIdSchema.safeParse(params?.id);
  if (!parsed.success) throw badRequest("invalid_request", "The restore job id in the path must be a UUID");
  return parsed.data;
}

export function createAgentApi(svc: AgentServices): Record<AgentRouteName, AgentHandler> {
  const guard =
    (fn: (req: Request, params: RouteParams | undefined) => Promise<Response>): AgentHandler =>
    async (req, params) => {
      try {
        return await fn(req, params);
      } catch (e) {
        if (e instanceof AgentError) return errorResponse(e);
        svc.log(`${req.method} ${new URL(req.url).pathname} failed`, e);
        return json({ error: { code: "internal", message: "The server could not handle this request; it was logged. Retry later." } }, 500);
      }
    };

  /** Authenticated route: the limiter is keyed by the claimed machine id so floods are cut before the database. */
  const machine = (fn: (m: MachineContext, req: Request, params: RouteParams | undefined) => Promise<Response>) =>
    guard(async (req, params) => {
      const authorization = req.headers.get("authorization");
      const claimed = /^Bearer tmm_([0-9a-f-]{36})\./.exec(authorization ?? "")?.[1];
      const wait = svc.machineLimiter.take(claimed ? `m:${claimed}` : `ip:${clientIp(req.headers) ?? "unknown"}`);
      if (wait !== null) throw tooManyRequests(wait);
      const m = await authenticateMachine(svc.database.db, authorization);
      return fn(m, req, params);
    });

  const ok = () => json({ ok: true });

  return {
    enroll: guard(async (req) => {
      const wait = svc.enrollLimiter.take(`ip:${clientIp(req.headers) ?? "unknown"}`);
      if (wait !== null) throw tooManyRequests(wait);
      const input = await body(req, routes.enroll.request);
      return json(await enrollAgent(svc, input, { ip: clientIp(req.headers), userAgent: req.headers.get("user-agent") }), 201);
    }),
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
      const { ids } = await body(req, routes.chunksMissing.request);
      return json({ missing: await missingChunks(svc, m, ids) });
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
