/**
 * Key rules shared by every backend, so a key that works in the in-memory
 * fake also works on disk and in Azure (and cannot escape a local root).
 */
import { InvalidKeyError } from "./errors";

/** Azure's blob-name limit; the tightest of our backends. */
export const MAX_KEY_LENGTH = 1024;

function problem(value: string, isPrefix: boolean): string | null {
  if (!isPrefix && value.length === 0) return "must not be empty";
  if (value.length > MAX_KEY_LENGTH) return `must be at most ${MAX_KEY_LENGTH} characters`;
  if (value.includes("\0")) return "must not contain NUL";
  if (value.includes("\\")) return "must not contain a backslash";
  if (value.startsWith("/")) return "must not start with '/'";
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) return "must not contain control characters";
  const segments = value.split("/");
  // A prefix may end in '/' ("packs/") or stop mid-segment ("packs/ab").
  const whole = isPrefix ? segments.slice(0, -1) : segments;
  for (const s of whole) {
    if (s === "") return "must not contain empty path segments ('//' or a trailing '/')";
  }
  for (const s of segments) {
    if (s === "." || s === "..") return "must not contain '.' or '..' segments";
  }
  return null;
}

export function validateKey(backend: string, key: string): void {
  if (typeof key !== "string") throw new InvalidKeyError(backend, String(key), "must be a string");
  const p = problem(key, false);
  if (p) throw new InvalidKeyError(backend, key, p);
}

export function validatePrefix(backend: string, prefix: string): void {
  if (typeof prefix !== "string") throw new InvalidKeyError(backend, String(prefix), "prefix must be a string");
  const p = problem(prefix, true);
  if (p) throw new InvalidKeyError(backend, prefix, p);
}

/**
 * Normalizes a requested byte range against an object's size. Ranges past the
 * end are clamped (like HTTP): the caller compares the returned length with
 * what it asked for. An offset beyond the end is a caller bug → throws.
 */
export function resolveRange(
  size: number,
  offset: number | undefined,
  length: number | undefined,
  invalid: (reason: string) => Error,
): { start: number; end: number } {
  const start = offset ?? 0;
  if (!Number.isSafeInteger(start) || start < 0) throw invalid(`offset must be a non-negative integer, got ${start}`);
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
    throw invalid(`length must be a non-negative integer, got ${length}`);
  }
  if (start > size) throw invalid(`offset ${start} is beyond the end of the ${size}-byte object`);
  const end = length === undefined ? size : Math.min(size, start + length);
  return { start, end };
}
