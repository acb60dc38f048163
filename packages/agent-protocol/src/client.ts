/**
 * Typed fetch client for the agent API. Requests are validated before they
 * leave (a bug here must not become a 400 loop), responses are validated on
 * arrival, and every failure becomes one of the typed errors in ./errors.
 */
import type { z } from "zod";
import { CredentialRejectedError, MissingChunksError, ProtocolError, RetryableApiError } from "./errors";
import {
  API_PREFIX,
  errorBodySchema,
  missingResponseIds,
  routes,
  type CommitPointRequest,
  type EnrollRequest,
  type HeartbeatRequest,
  type PackReport,
  type RestoreProgressReport,
  type RestoreResultReport,
  type AgentEvent,
} from "./schemas";

type RouteName = keyof typeof routes;
type Res<R extends RouteName> = z.infer<(typeof routes)[R]["response"]>;

export interface AgentClientOptions {
  serverUrl: string;
  /** `tmm_<machineId>.<secret>`; required for everything except enroll. */
  credential?: string;
  fetch?: typeof fetch;
  /** Per-request timeout (a hung server is a retryable failure). */
  timeoutMs?: number;
}

export interface AgentClient {
  enroll(body: EnrollRequest): Promise<Res<"enroll">>;
  heartbeat(body: HeartbeatRequest): Promise<Res<"heartbeat">>;
  /** `null` when the server answers 304 for the ETag given. */
  getPolicy(etag?: string): Promise<Res<"policy"> | null>;
  uploadSession(): Promise<Res<"uploadSession">>;
  missingChunks(ids: string[]): Promise<string[]>;
  reportPack(body: PackReport): Promise<Res<"packs">>;
  commitPoint(body: CommitPointRequest): Promise<Res<"points">>;
  nextRestoreJob(): Promise<Res<"nextRestoreJob">["job"]>;
  restoreProgress(jobId: string, body: RestoreProgressReport): Promise<void>;
  restoreResult(jobId: string, body: RestoreResultReport): Promise<void>;
  events(events: AgentEvent[]): Promise<void>;
}

export function createAgentClient(opts: AgentClientOptions): AgentClient {
  const base = new URL(API_PREFIX.slice(1) + "/", opts.serverUrl.endsWith("/") ? opts.serverUrl : opts.serverUrl + "/");
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 30_000;

  async function call<R extends RouteName>(name: R, init: { body?: unknown; params?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<{ status: number; body: Res<R> | null; headers: Headers }> {
    const route = routes[name];
    let path: string = route.path;
    for (const [k, v] of Object.entries(init.params ?? {})) path = path.replace(`:${k}`, encodeURIComponent(v));
    const label = `${route.method} ${API_PREFIX}${route.path}`;
    const headers: Record<string, string> = { accept: "application/json", ...init.headers };
    if (route.auth) {
      if (!opts.credential) throw new CredentialRejectedError("no machine credential: enroll first", label);
      headers.authorization = `Bearer ${opts.credential}`;
    }
    let payload: string | undefined;
    if (route.request) {
      const parsed = route.request.safeParse(init.body);
      if (!parsed.success) throw new ProtocolError(`refusing to send an invalid ${name} request: ${describe(parsed.error)}`, label);
      payload = JSON.stringify(parsed.data);
      headers["content-type"] = "application/json";
    }
    let res: Response;
    try {
      res = await doFetch(new URL(path.slice(1), base), { method: route.method, headers, body: payload, signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw new RetryableApiError(`${label}: server unreachable (${causeOf(e)})`, label);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw new RetryableApiError(`${label}: connection dropped while reading the reply (${causeOf(e)})`, label, res.status);
    }
    if (res.status === 304) return { status: 304, body: null, headers: res.headers };
    if (!res.ok) throw toError(label, res, text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ProtocolError(`${label}: reply is not JSON (HTTP ${res.status})`, label, res.status);
    }
    const parsed = route.response.safeParse(json);
    if (!parsed.success) throw new ProtocolError(`${label}: unexpected reply: ${describe(parsed.error)}`, label, res.status);
    return { status: res.status, body: parsed.data as Res<R>, headers: res.headers };
  }

  const must = <T>(r: { body: T | null }, label: string): T => {
    if (r.body === null) throw new ProtocolError(`${label}: unexpected 304`, label, 304);
    return r.body;
  };

  return {
    async enroll(body) {
      return must(await call("enroll", { body }), "enroll");
    },
    async heartbeat(body) {
      return must(await call("heartbeat", { body }), "heartbeat");
    },
    async getPolicy(etag) {
      const r = await call("policy", { headers: etag ? { "if-none-match": etag } : {} });
      return r.body;
    },
    async uploadSession() {
      return must(await call("uploadSession"), "upload-session");
    },
    async missingChunks(ids) {
      // Concatenated hex both ways: one regex per request instead of one per id.
      return missingResponseIds(must(await call("chunksMissing", { body: { idsHex: ids.join("") } }), "chunks/missing"));
    },
    async reportPack(body) {
      return must(await call("packs", { body }), "packs");
    },
    async commitPoint(body) {
      return must(await call("points", { body }), "points");
    },
    async nextRestoreJob() {
      return must(await call("nextRestoreJob"), "restore-jobs/next").job;
    },
    async restoreProgress(jobId, body) {
      await call("restoreProgress", { body, params: { id: jobId } });
    },
    async restoreResult(jobId, body) {
      await call("restoreResult", { body, params: { id: jobId } });
    },
    async events(events) {
      await call("events", { body: { events } });
    },
  };
}

function toError(label: string, res: Response, text: string) {
  let code: string | undefined;
  let message = text.slice(0, 300);
  let missing: string[] | undefined;
  try {
    const body = errorBodySchema.safeParse(JSON.parse(text));
    if (body.success) ({ code, message, missing } = body.data.error);
  } catch {
    // not JSON: keep the raw (truncated) text
  }
  const what = `${label}: HTTP ${res.status}${code ? ` ${code}` : ""}: ${message}`;
  if (res.status === 401 || res.status === 403) return new CredentialRejectedError(what, label, res.status, code);
  if (res.status === 409 && missing) return new MissingChunksError(label, missing);
  if (res.status === 429 || res.status === 408 || res.status >= 500) return new RetryableApiError(what, label, res.status, code, retryAfter(res.headers.get("retry-after")));
  return new ProtocolError(what, label, res.status, code);
}

function retryAfter(v: string | null): number | undefined {
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s) && s >= 0) return Math.min(s, 3600) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

function causeOf(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === "TimeoutError") return "timed out";
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}

function describe(e: z.ZodError): string {
  return e.issues
    .slice(0, 5)
    .map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`)
    .join("; ");
}
