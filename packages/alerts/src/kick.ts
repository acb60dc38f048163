/**
 * How new deliveries reach the delivery worker quickly. raiseAlert only writes
 * rows (callers pass their db or transaction; no queue handle); the worker that
 * runs in this process registers a kick so delivery starts within seconds. A
 * process without a worker (or a kick sent before the caller's transaction
 * committed) is covered by the delivery sweep every minute.
 */
type Kick = (opts: { delaySeconds: number }) => void;

let kick: Kick | null = null;

export function setDeliveryKick(fn: Kick | null): void {
  kick = fn;
}

export function kickDeliveries(opts: { delaySeconds: number } = { delaySeconds: 0 }): void {
  try {
    kick?.(opts);
  } catch {
    // The sweep delivers anyway; a failed kick must never fail the alert that caused it.
  }
}
