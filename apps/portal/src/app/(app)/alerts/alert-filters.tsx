"use client";
import { alertStates, conditionLabels, severities } from "~/components/alert-badges";
import type { AlertFilterValues } from "./filters";

export function AlertFilters({
  value,
  customers,
  machines,
  onChange,
}: {
  value: AlertFilterValues;
  customers?: { id: string; name: string }[];
  machines?: { id: string; name: string }[];
  onChange: (next: AlertFilterValues) => void;
}) {
  const set = (k: keyof AlertFilterValues, v: string) => {
    const next = { ...value, [k]: v || undefined };
    // A machine belongs to one customer: changing the customer drops a machine filter from another.
    if (k === "customerId") delete next.machineId;
    onChange(next);
  };
  return (
    <div className="card row" data-testid="alert-filters">
      {customers ? (
        <div className="field">
          <label htmlFor="f-customer">Customer</label>
          <select id="f-customer" value={value.customerId ?? ""} onChange={(e) => set("customerId", e.target.value)}>
            <option value="">All</option>
            {customers.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      <div className="field">
        <label htmlFor="f-machine">Machine</label>
        <select id="f-machine" value={value.machineId ?? ""} onChange={(e) => set("machineId", e.target.value)} disabled={!machines}>
          <option value="">All</option>
          {machines?.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="f-severity">Severity</label>
        <select id="f-severity" value={value.severity ?? ""} onChange={(e) => set("severity", e.target.value)}>
          <option value="">All</option>
          {severities.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="f-state">State</label>
        <select id="f-state" value={value.state ?? ""} onChange={(e) => set("state", e.target.value)}>
          <option value="">All</option>
          {alertStates.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="f-condition">Condition</label>
        <select id="f-condition" value={value.condition ?? ""} onChange={(e) => set("condition", e.target.value)}>
          <option value="">All</option>
          {Object.entries(conditionLabels).map(([k, label]) => (
            <option key={k} value={k}>
              {label}
            </option>
          ))}
        </select>
      </div>
    </div>
  );
}
