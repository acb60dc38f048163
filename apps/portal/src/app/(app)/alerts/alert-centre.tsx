"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import { DeliveriesTable } from "~/components/deliveries-table";
import { ErrorBanner } from "~/components/form";
import { errorMessage } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";
import { AlertFilters } from "./alert-filters";
import { AlertList } from "./alert-list";
import { type AlertFilterValues, filterKeys, filtersFromParams } from "./filters";

export type AlertScope = { mspId: string } | { customerId: string };

function AlertDeliveries({ alertId }: { alertId: string }) {
  const trpc = useTRPC();
  const a = useQuery({
    ...trpc.alerts.get.queryOptions({ alertId }),
    refetchInterval: (q) => (q.state.data?.deliveries.some((d) => d.state === "pending") ? 2000 : 10_000),
  });
  return (
    <>
      <ErrorBanner message={errorMessage(a.error)} />
      <DeliveriesTable rows={a.data?.deliveries} showAlert={false} testId="alert-deliveries" />
    </>
  );
}

const severityValues = ["critical", "warning", "info"] as const;
const stateValues = ["open", "acknowledged", "resolved"] as const;
const conditionValues = ["corruption", "restore_test_failed", "point_damaged", "agent_offline", "rpo_missed", "capture_error", "storage_quota"] as const;
/** A URL value the router knows, as its one-element filter list; anything else filters nothing. */
const oneOf = <T extends string>(allowed: readonly T[], v: string | undefined): T[] | undefined => (v && (allowed as readonly string[]).includes(v) ? [v as T] : undefined);

/**
 * The alert centre: every alert the viewer may see, filtered through the URL
 * (a link in an email lands on the same filtered view), most recently seen first.
 */
export function AlertCentre({ scope, canAct }: { scope: AlertScope; canAct: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const filters = filtersFromParams(params);
  const [openId, setOpenId] = useState<string | null>(params.get("alert"));
  const mspId = "mspId" in scope ? scope.mspId : null;
  const customerId = "customerId" in scope ? scope.customerId : filters.customerId;
  const [limit, setLimit] = useState(50);

  const input = {
    ...scope,
    ...(mspId && filters.customerId ? { customerId: filters.customerId } : {}),
    ...(filters.machineId ? { machineId: filters.machineId } : {}),
    severity: oneOf(severityValues, filters.severity),
    state: oneOf(stateValues, filters.state),
    condition: oneOf(conditionValues, filters.condition),
    limit,
  };
  const alerts = useQuery({ ...trpc.alerts.list.queryOptions(input), refetchInterval: 10_000 });
  const customers = useQuery({ ...trpc.customers.list.queryOptions({ mspId: mspId ?? "" }), enabled: mspId !== null });
  const machines = useQuery({ ...trpc.machines.list.queryOptions({ customerId: customerId ?? "" }), enabled: Boolean(customerId) });

  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.alerts.pathKey() });
  const acknowledge = useMutation(trpc.alerts.acknowledge.mutationOptions({ onSettled: refresh }));
  const resolve = useMutation(trpc.alerts.resolve.mutationOptions({ onSettled: refresh }));

  const setFilters = (next: AlertFilterValues) => {
    const q = new URLSearchParams();
    const msp = params.get("msp");
    if (msp) q.set("msp", msp);
    for (const k of filterKeys) if (next[k]) q.set(k, next[k]!);
    router.replace(`${pathname}${q.size ? `?${q}` : ""}`);
  };
  const d = alerts.data;
  // A link to one alert (from an email or the delivery log) shows it even when the filters or paging leave it out.
  const linkedId = params.get("alert");
  const linkedMissing = Boolean(linkedId && /^[0-9a-f-]{36}$/i.test(linkedId) && d && !d.alerts.some((a) => a.id === linkedId));
  const linked = useQuery({ ...trpc.alerts.get.queryOptions({ alertId: linkedId ?? "" }), enabled: linkedMissing });
  const listProps = {
    openId,
    onToggle: (id: string) => setOpenId((cur) => (cur === id ? null : id)),
    canAct,
    pending: acknowledge.isPending || resolve.isPending,
    onAcknowledge: (alertId: string) => acknowledge.mutate({ alertId }),
    onResolve: (alertId: string) => resolve.mutate({ alertId }),
    deliveries: (alertId: string) => (mspId ? <AlertDeliveries alertId={alertId} /> : null),
  };
  return (
    <>
      {d ? (
        <p className="muted" data-testid="alert-counts">
          Unresolved: {d.counts.open} open, {d.counts.acknowledged} acknowledged ({d.counts.critical} critical, {d.counts.warning} warning, {d.counts.info} info)
        </p>
      ) : null}
      <AlertFilters
        value={filters}
        customers={mspId ? customers.data?.map((c) => ({ id: c.id, name: c.name })) : undefined}
        machines={customerId ? machines.data?.map((m) => ({ id: m.id, name: m.name })) : undefined}
        onChange={setFilters}
      />
      <ErrorBanner message={errorMessage(alerts.error ?? acknowledge.error ?? resolve.error)} />
      {linkedMissing && linked.data ? (
        <section className="card" data-testid="linked-alert">
          <strong>The linked alert</strong> <span className="muted">(not in the filtered list below)</span>
          <AlertList alerts={[linked.data]} {...listProps} />
        </section>
      ) : null}
      <AlertList alerts={d?.alerts} {...listProps} />
      {d && d.total > d.alerts.length ? (
        <button type="button" className="secondary" onClick={() => setLimit((l) => Math.min(200, l + 50))} disabled={limit >= 200}>
          Show more ({d.total - d.alerts.length} not shown)
        </button>
      ) : null}
    </>
  );
}
