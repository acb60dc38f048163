import { createHash } from "node:crypto";

export function md5(data: Uint8Array): Buffer {
  return createHash("md5").update(data).digest();
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
