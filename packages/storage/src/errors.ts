/**
 * Errors every BlobStore throws. Callers branch on the class (not found,
 * exists) and on `transient` (retry or give up), never on message text.
 *
 * Messages name the backend (its `description`) and the key, never a secret:
 * SDK errors carry request URLs with SAS signatures, so backends build their
 * own message from status/code instead of forwarding the SDK's text.
 */

export interface StorageErrorOptions {
  /** The store's `description` (e.g. "local:/srv/repo", "azure:acct/container"). */
  backend: string;
  key?: string;
  /** True when trying again later may succeed (5xx, 429, timeouts, connection resets). */
  transient?: boolean;
  /** HTTP status when the backend speaks HTTP. */
  status?: number;
  /** Backend or errno code, e.g. "ENOSPC", "ServerBusy", "MD5_MISMATCH". */
  code?: string;
  cause?: unknown;
}

export class StorageError extends Error {
  readonly backend: string;
  readonly key: string | undefined;
  readonly transient: boolean;
  readonly status: number | undefined;
  readonly code: string | undefined;

  constructor(message: string, opts: StorageErrorOptions) {
    super(`${opts.backend}: ${message}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "StorageError";
    this.backend = opts.backend;
    this.key = opts.key;
    this.transient = opts.transient ?? false;
    this.status = opts.status;
    this.code = opts.code;
  }
}

export class BlobNotFoundError extends StorageError {
  constructor(backend: string, key: string) {
    super(`blob not found: ${key}`, { backend, key, transient: false, status: 404, code: "NOT_FOUND" });
    this.name = "BlobNotFoundError";
  }
}

export class BlobExistsError extends StorageError {
  constructor(backend: string, key: string) {
    super(`blob already exists: ${key}`, { backend, key, transient: false, status: 409, code: "EXISTS" });
    this.name = "BlobExistsError";
  }
}

/** The bytes received do not match the MD5 the writer declared: nothing was stored. */
export class BlobIntegrityError extends StorageError {
  constructor(backend: string, key: string, detail = "content MD5 does not match the data") {
    super(`${detail}: ${key}`, { backend, key, transient: false, status: 400, code: "MD5_MISMATCH" });
    this.name = "BlobIntegrityError";
  }
}

/** A key or prefix no backend may accept (traversal, absolute, backslash, NUL…). */
export class InvalidKeyError extends StorageError {
  constructor(backend: string, key: string, reason: string) {
    super(`invalid key ${JSON.stringify(key)}: ${reason}`, { backend, key, transient: false, code: "INVALID_KEY" });
    this.name = "InvalidKeyError";
  }
}

/** Network-level failures worth retrying (node errno codes and undici codes). */
const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "REQUEST_SEND_ERROR",
  "TIMEOUT",
]);

export function isTransientStatus(status: number | undefined): boolean {
  return status !== undefined && (status === 408 || status === 429 || status >= 500);
}

export function isTransientCode(code: unknown): boolean {
  return typeof code === "string" && TRANSIENT_CODES.has(code);
}

/**
 * Whether an arbitrary thrown value is worth retrying. StorageErrors say so
 * themselves; raw errno errors are judged by code. A caller's own abort is
 * never transient (the caller asked us to stop).
 */
export function isTransientError(err: unknown): boolean {
  if (err instanceof StorageError) return err.transient;
  if (!(err instanceof Error)) return false;
  if (err.name === "AbortError") return false;
  if (err.name === "TimeoutError") return true;
  const e = err as Error & { code?: unknown; statusCode?: unknown; status?: unknown };
  if (isTransientCode(e.code)) return true;
  const status = typeof e.statusCode === "number" ? e.statusCode : typeof e.status === "number" ? e.status : undefined;
  return isTransientStatus(status);
}

/** Throw the caller's abort reason as an AbortError-like error. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof Error) throw reason;
    const err = new Error("The operation was aborted");
    err.name = "AbortError";
    throw err;
  }
}

export function rangeError(backend: string, key: string, reason: string): StorageError {
  return new StorageError(`invalid range for ${key}: ${reason}`, {
    backend,
    key,
    transient: false,
    status: 416,
    code: "INVALID_RANGE",
  });
}
