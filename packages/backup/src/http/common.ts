/**
 * Request/response plumbing shared by every agent route: JSON errors
 * `{ error: { code, message, missing? } }`, body parsing with the protocol's
 * zod schemas, and one catch-all that logs unexpected failures.
 */
import { z, ZodError } from "zod";
import { AgentError, badRequest } from "../errors";
import type { AgentServices } from "../services";

export type RouteParams = Record<string, string>;
export type AgentHandler = (req: Request, params?: RouteParams) => Promise<Response>;

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
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

export async function body<S extends z.ZodType>(req: Request, schema: S): Promise<z.output<S>> {
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
export function jobId(params: RouteParams | undefined): string {
  const parsed = jobIdSchema.safeParse(params?.id);
  if (!parsed.success) throw badRequest("invalid_request", "The restore job id in the path must be a UUID");
  return parsed.data;
}

export function guarded(svc: AgentServices, fn: (req: Request, params: RouteParams | undefined) => Promise<Response>): AgentHandler {
  return async (req, params) => {
    try {
      return await fn(req, params);
    } catch (e) {
      if (e instanceof AgentError) return errorResponse(e);
      svc.log(`${req.method} ${new URL(req.url).pathname} failed`, e);
      return json({ error: { code: "internal", message: "The server could not handle this request; it was logged. Retry later." } }, 500);
    }
  };
}
