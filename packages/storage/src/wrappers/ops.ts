/** The operations of a BlobStore, as wrappers count, limit and fault them. */
export const OP_KINDS = ["put", "get", "head", "list", "delete"] as const;
export type OpKind = (typeof OP_KINDS)[number];

export function perOp<T>(value: () => T): Record<OpKind, T> {
  return { put: value(), get: value(), head: value(), list: value(), delete: value() };
}

/** setTimeout as a promise that an AbortSignal can cut short. */
export function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
