import { DataTable } from "./data-table";
import { DeliveryStateBadge } from "./alert-badges";

type When = Date | string | null | undefined;

/** The fields of an `alert_deliveries` row the log shows; channel and alert names when the router joins them. */
export type DeliveryRow = {
  id: string;
  alertId?: string | null;
  alertTitle?: string | null;
  channelId: string;
  channelName?: string | null;
  channelKind?: string | null;
  event: string;
  state: string;
  attempts: number;
  lastStatus?: number | null;
  lastError?: string | null;
  nextAttemptAt?: When;
  sentAt?: When;
  createdAt: When;
};

const time = (d: When) => (d ? new Date(d).toLocaleString() : "—");

/** Delivery log: one row per message of one alert event on one channel, with its attempts and last outcome. */
export function DeliveriesTable({ rows, showAlert = true, testId = "deliveries" }: { rows: readonly DeliveryRow[] | undefined; showAlert?: boolean; testId?: string }) {
  return (
    <DataTable
      rows={rows}
      testId={testId}
      rowTestId="delivery"
      rowKey={(d) => d.id}
      empty="No deliveries yet."
      columns={[
        { key: "when", header: "Created", cell: (d) => time(d.createdAt) },
        { key: "channel", header: "Channel", cell: (d) => (d.channelName ? `${d.channelName}${d.channelKind ? ` (${d.channelKind})` : ""}` : d.channelId.slice(0, 8)) },
        ...(showAlert
          ? [{ key: "alert", header: "Alert", cell: (d: DeliveryRow) => (d.alertId ? <a href={`/alerts?alert=${d.alertId}`}>{d.alertTitle ?? d.alertId.slice(0, 8)}</a> : <span className="muted">test message</span>) }]
          : []),
        { key: "event", header: "Event", cell: (d) => d.event },
        { key: "state", header: "State", cell: (d) => <DeliveryStateBadge state={d.state} /> },
        { key: "attempts", header: "Attempts", cell: (d) => <span data-testid="delivery-attempts">{d.attempts}</span> },
        {
          key: "last",
          header: "Last status / error",
          cell: (d) => (
            <>
              {d.lastStatus ? <code>HTTP {d.lastStatus}</code> : null}
              {d.lastError ? <div className="field-error">{d.lastError}</div> : null}
              {!d.lastStatus && !d.lastError ? <span className="muted">—</span> : null}
              {d.state === "pending" && d.nextAttemptAt ? <div className="muted">next try {time(d.nextAttemptAt)}</div> : null}
              {d.sentAt ? <div className="muted">sent {time(d.sentAt)}</div> : null}
            </>
          ),
        },
      ]}
    />
  );
}
