"use client";
import { alertStates, conditionLabels, severities } from "~/components/alert-badges";
import { type SelectOption, SelectField, valueOptions } from "~/components/form";
import type { AlertFilterValues } from "./filters";

const all: SelectOption = { value: "", label: "All" };
const named = (rows: { id: string; name: string }[] | undefined): SelectOption[] => [all, ...(rows ?? []).map((r) => ({ value: r.id, label: r.name }))];

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
        <SelectField label="Customer" id="f-customer" options={named(customers)} value={value.customerId ?? ""} onChange={(e) => set("customerId", e.target.value)} />
      ) : null}
      <SelectField label="Machine" id="f-machine" options={named(machines)} value={value.machineId ?? ""} onChange={(e) => set("machineId", e.target.value)} disabled={!machines} />
      <SelectField label="Severity" id="f-severity" options={[all, ...valueOptions(severities)]} value={value.severity ?? ""} onChange={(e) => set("severity", e.target.value)} />
      <SelectField label="State" id="f-state" options={[all, ...valueOptions(alertStates)]} value={value.state ?? ""} onChange={(e) => set("state", e.target.value)} />
      <SelectField
        label="Condition"
        id="f-condition"
        options={[all, ...Object.entries(conditionLabels).map(([k, label]) => ({ value: k, label }))]}
        value={value.condition ?? ""}
        onChange={(e) => set("condition", e.target.value)}
      />
    </div>
  );
}
