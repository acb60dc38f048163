import type { ReactNode } from "react";

/** What each alert condition is called on screen (the router speaks in condition keys). */
export const conditionLabels: Record<string, string> = {
  corruption: "Corruption found",
  restore_test_failed: "Restore test failed",
  point_damaged: "Recovery point damaged",
  agent_offline: "Agent offline",
  rpo_missed: "RPO missed",
  capture_error: "Capture errors",
  storage_quota: "Storage above quota",
};

export const severities = ["critical", "warning", "info"] as const;
export const alertStates = ["open", "acknowledged", "resolved"] as const;
export const channelKinds = ["email", "sms", "webhook"] as const;

const severityClass: Record<string, string> = { critical: "bad", warning: "warn", info: "" };
const stateClass: Record<string, string> = { open: "bad", acknowledged: "warn", resolved: "ok" };
const deliveryClass: Record<string, string> = { sent: "ok", pending: "warn", failed: "bad" };

function Badge({ kind, children, testId }: { kind: string; children: ReactNode; testId?: string }) {
  return (
    <span className={`badge ${kind}`} data-testid={testId}>
      {children}
    </span>
  );
}

export const SeverityBadge = ({ severity }: { severity: string }) => (
  <Badge kind={severityClass[severity] ?? ""} testId="alert-severity">
    {severity}
  </Badge>
);

export const AlertStateBadge = ({ state }: { state: string }) => (
  <Badge kind={stateClass[state] ?? ""} testId="alert-state">
    {state}
  </Badge>
);

export const DeliveryStateBadge = ({ state }: { state: string }) => (
  <Badge kind={deliveryClass[state] ?? ""} testId="delivery-state">
    {state}
  </Badge>
);

/** ✓ passed, ✗ failed, … running: a restore test's verdict at a glance. */
export function VerdictBadge({ state }: { state: "running" | "passed" | "failed" | string }) {
  if (state === "passed") return <Badge kind="ok">✓ passed</Badge>;
  if (state === "failed") return <Badge kind="bad">✗ failed</Badge>;
  return <Badge kind="warn">… {state}</Badge>;
}
