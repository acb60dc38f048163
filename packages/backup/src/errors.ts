/**
 * The one error type domain functions throw for anything the caller did
 * wrong. The HTTP layer turns it into `{ error: { code, message, missing? } }`
 * with its status, so every agent route fails the same way.
 */
export class AgentError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { missing?: string[]; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = "AgentError";
  }
}

export const unauthorized = (message = "Machine credential is missing or invalid") => new AgentError(401, "invalid_credential", message);
export const revoked = () =>
  new AgentError(403, "machine_revoked", "This machine was revoked in the portal: enroll it again with a new token");
export const notFound = (what: string) => new AgentError(404, "not_found", `${what} not found`);
export const badRequest = (code: string, message: string) => new AgentError(400, code, message);
export const unprocessable = (code: string, message: string) => new AgentError(422, code, message);
export const conflict = (code: string, message: string, missing?: string[]) => new AgentError(409, code, message, { missing });
export const tooManyRequests = (retryAfterSeconds: number) =>
  new AgentError(429, "rate_limited", `Too many requests from this machine: retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
