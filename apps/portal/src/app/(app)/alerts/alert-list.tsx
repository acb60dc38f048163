"use client";
import type { ReactNode } from "react";
import { AlertStateBadge, conditionLabels, SeverityBadge } from "~/components/alert-badges";
import { DataTable } from "~/components/data-table";
import { AlertDetails } from "./alert-details";

type When = Date | string | null | undefined;

/** An `alerts` row as the centre lists it, with the names the router joins in. */
export type AlertRow = {
  id: string;
  customerId: string | null;
  customerName?: string | null;
  machineId: string | null;
  machineName?: string | null;
  condition: string;
  severity: string;
  state: string;
  title: string;
  details: Record<string, unknown>;
  occurrences: number;
  openedAt: When;
  lastSeenAt: When;
  acknowledgedAt?: When;
  acknowledgedByEmail?: string | null;
  resolvedAt?: When;
  resolvedByEmail?: string | null;
  resolvedAutomatically?: boolean;
};

const time = (d: When) => (d ? new Date(d).toLocaleString() : "—");

function StateLine({ a }: { a: AlertRow }) {
  return (
    <>
      <AlertStateBadge state={a.state} />
      {a.state === "acknowledged" ? (
        <div className="muted" data-testid="alert-acknowledged-by">
          by {a.acknowledgedByEmail ?? "someone"} {time(a.acknowledgedAt)}
        </div>
      ) : null}
      {a.state === "resolved" ? (
        <div className="muted">
          {a.resolvedAutomatically ? "automatically (the condition cleared)" : a.resolvedByEmail ? `by ${a.resolvedByEmail}` : ""} {time(a.resolvedAt)}
        </div>
      ) : null}
    </>
  );
}

export function AlertList({
  alerts,
  openId,
  onToggle,
  canAct,
  pending,
  onAcknowledge,
  onResolve,
  deliveries,
}: {
  alerts: readonly AlertRow[] | undefined;
  openId: string | null;
  onToggle: (id: string) => void;
  canAct: boolean;
  pending: boolean;
  onAcknowledge: (id: string) => void;
  onResolve: (id: string) => void;
  /** The delivery log of one alert, shown when it is expanded. */
  deliveries: (alertId: string) => ReactNode;
}) {
  return (
    <DataTable
      rows={alerts}
      testId="alerts"
      rowTestId="alert"
      rowKey={(a) => a.id}
      empty="No alerts match these filters."
      columns={[
        { key: "severity", header: "Severity", cell: (a) => <SeverityBadge severity={a.severity} /> },
        {
          key: "title",
          header: "Alert",
          cell: (a) => (
            <>
              <button type="button" className="link" aria-expanded={openId === a.id} onClick={() => onToggle(a.id)} data-testid="alert-title">
                {a.title}
              </button>
              <div className="muted" data-testid="alert-condition">
                {conditionLabels[a.condition] ?? a.condition}
              </div>
            </>
          ),
        },
        {
          key: "where",
          header: "Customer / machine",
          cell: (a) => (
            <>
              {a.customerId ? <a href={`/customers/${a.customerId}`}>{a.customerName ?? "customer"}</a> : <span className="muted">all customers</span>}
              {a.machineId ? (
                <div>
                  <a href={`/machines/${a.machineId}`}>{a.machineName ?? "machine"}</a>
                </div>
              ) : null}
            </>
          ),
        },
        {
          key: "seen",
          header: "Opened / last seen",
          cell: (a) => (
            <>
              {time(a.openedAt)}
              <div className="muted">
                last {time(a.lastSeenAt)} · <span data-testid="alert-occurrences">{a.occurrences}×</span>
              </div>
            </>
          ),
        },
        { key: "state", header: "State", cell: (a) => <StateLine a={a} /> },
        {
          key: "actions",
          header: "",
          cell: (a) =>
            canAct && a.state !== "resolved" ? (
              <div className="actions">
                {a.state === "open" ? (
                  <button type="button" className="secondary" disabled={pending} onClick={() => onAcknowledge(a.id)}>
                    Acknowledge
                  </button>
                ) : null}
                <button type="button" className="secondary" disabled={pending} onClick={() => onResolve(a.id)}>
                  Resolve
                </button>
              </div>
            ) : null,
        },
      ]}
      expanded={(a) =>
        openId === a.id ? (
          <div data-testid="alert-expanded">
            <AlertDetails details={a.details} machineId={a.machineId} />
            {deliveries(a.id) ? (
              <>
                <h3>Deliveries</h3>
                {deliveries(a.id)}
              </>
            ) : null}
          </div>
        ) : null
      }
    />
  );
}
