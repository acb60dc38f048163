import type { AlertSeverity } from "@tidemark/db/schema";

export const severityRank: Record<AlertSeverity, number> = { info: 0, warning: 1, critical: 2 };
const rank = severityRank;

/** A channel with `min` receives alerts of this severity or above. */
export function atLeast(severity: AlertSeverity, min: AlertSeverity): boolean {
  return rank[severity] >= rank[min];
}
