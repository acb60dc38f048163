import type { AlertSeverity } from "@tidemark/db/schema";

const rank: Record<AlertSeverity, number> = { info: 0, warning: 1, critical: 2 };

/** A channel with `min` receives alerts of this severity or above. */
export function atLeast(severity: AlertSeverity, min: AlertSeverity): boolean {
  return rank[severity] >= rank[min];
}
