/**
 * What the agent must do about a failed call is the only thing that matters
 * to it: stop (fatal), wait and retry (retryable), or treat it as a bug in one
 * side of the protocol (protocol). Each error class says which.
 */
export class AgentApiError extends Error {
  readonly retryable: boolean = false;
  readonly fatal: boolean = false;
  constructor(
    message: string,
    readonly route: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** 401/403: the machine credential is forged, revoked or the machine was removed. Retrying cannot help. */
export class CredentialRejectedError extends AgentApiError {
  override readonly fatal = true;
}

/** 429, 5xx, timeouts and dropped connections: try again later (retryAfterMs when the server said so). */
export class RetryableApiError extends AgentApiError {
  override readonly retryable = true;
  constructor(message: string, route: string, status?: number, code?: string, readonly retryAfterMs?: number) {
    super(message, route, status, code);
  }
}

/** 409 on commit point: these chunks are not indexed yet (their packs must be reported first). */
export class MissingChunksError extends AgentApiError {
  constructor(route: string, readonly missing: string[]) {
    super(`the server has not indexed ${missing.length} chunk(s) this point references`, route, 409, "missing_chunks");
  }
}

/** Any other 4xx, or a response body that does not match the schema. */
export class ProtocolError extends AgentApiError {}

export function isRetryable(e: unknown): boolean {
  return e instanceof AgentApiError ? e.retryable : false;
}
export function isFatal(e: unknown): boolean {
  return e instanceof AgentApiError && e.fatal;
}
