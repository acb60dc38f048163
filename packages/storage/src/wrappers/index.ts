export { OP_KINDS, type OpKind } from "./ops";
export { RetryingBlobStore, withRetry, type RetryInfo, type RetryOptions } from "./retry";
export { LimitedBlobStore, Semaphore, withConcurrencyLimit } from "./limit";
export { MetricsBlobStore, withMetrics, type StoreMetrics } from "./metrics";
export { FaultyBlobStore, seededRandom, withFaults, type FaultOptions, type FaultRule } from "./faults";
export { ForwardingBlobStore } from "./forwarding";
export { ReadOnlyBlobStore, readOnly } from "./read-only";
