"use client";
import { useQuery } from "@tanstack/react-query";
import { ErrorBanner } from "~/components/form";
import { errorMessage } from "~/lib/errors";
import { formatBytes } from "~/lib/format";
import { useTRPC } from "~/lib/trpc";

/** Logical bytes protected against bytes stored: the dedup ratio is the product's promise, shown. */
export function DashboardPanel({ customerId }: { customerId: string }) {
  const trpc = useTRPC();
  const s = useQuery({ ...trpc.customers.storage.queryOptions({ customerId }), refetchInterval: 15_000 });
  const d = s.data;
  return (
    <>
      <ErrorBanner message={errorMessage(s.error)} />
      <div className="stats" data-testid="customer-dashboard">
        <div className="card stat">
          <div className="muted">Protected</div>
          <strong data-testid="stat-protected">{formatBytes(d?.protectedBytes)}</strong>
        </div>
        <div className="card stat">
          <div className="muted">Stored</div>
          <strong data-testid="stat-stored">{formatBytes(d?.storedBytes)}</strong>
        </div>
        <div className="card stat">
          <div className="muted">Dedup ratio</div>
          <strong data-testid="stat-dedup">{d?.dedupRatio ? `${d.dedupRatio.toFixed(2)}×` : "—"}</strong>
        </div>
        <div className="card stat">
          <div className="muted">Recovery points</div>
          <strong data-testid="stat-points">{d?.recoveryPoints ?? "—"}</strong>
        </div>
        <div className="card stat">
          <div className="muted">Machines at risk</div>
          <strong data-testid="stat-at-risk" className={d && d.machinesAtRisk > 0 ? "field-error" : undefined}>
            {d ? `${d.machinesAtRisk} of ${d.machines}` : "—"}
          </strong>
        </div>
      </div>
    </>
  );
}
