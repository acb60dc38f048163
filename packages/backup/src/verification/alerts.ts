/**
 * Where verification findings go. `@tidemark/alerts` depends on this package,
 * so the worker injects its `raiseAlert` / `resolveCondition` through this
 * narrow shape instead of verification importing them (no cycle).
 */
import type { DbOrTx } from "@tidemark/db";

export type VerificationCondition = "corruption" | "restore_test_failed" | "point_damaged";

export type RaisedAlert = {
  mspId: string;
  customerId?: string | null;
  machineId?: string | null;
  condition: VerificationCondition;
  severity: "critical" | "warning" | "info";
  /** One open alert per condition and subject (a customer id, a machine id). */
  subject: string;
  title: string;
  details: Record<string, unknown>;
};

export type AlertSink = {
  /** `tx`: raise inside the caller's transaction, so the finding and its alert commit (or roll back) together. */
  raise(alert: RaisedAlert, tx?: DbOrTx): Promise<unknown>;
  resolve(cleared: { mspId: string; condition: VerificationCondition; subject: string }): Promise<unknown>;
};

/** For callers that only want the verdicts (tests of the bookkeeping, the CLI-like bench). */
export const noAlerts: AlertSink = { raise: async () => undefined, resolve: async () => undefined };
