/** Metadata objects are JSON, zstd-compressed before sealing (large indexes and trees shrink ~3×). */
import { compress, decompress } from "zstd-napi";

export function compressJson(value: unknown): Buffer {
  return compress(Buffer.from(JSON.stringify(value)), { compressionLevel: 3 });
}

export function expandJson(data: Buffer): unknown {
  return JSON.parse(decompress(data).toString("utf8"));
}
