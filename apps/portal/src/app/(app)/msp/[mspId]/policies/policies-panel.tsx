"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorBanner, SelectField, SubmitButton } from "~/components/form";
import { errorMessage } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";
import { PolicyForm, fromPolicy, policyDefaults } from "./policy-form";

function AssignForm({ mspId, policyId, onDone }: { mspId: string; policyId: string; onDone: () => void }) {
  const trpc = useTRPC();
  const customers = useQuery(trpc.customers.list.queryOptions({ mspId }));
  const [customerId, setCustomerId] = useState("");
  const [machineId, setMachineId] = useState("");
  const machines = useQuery({ ...trpc.machines.list.queryOptions({ customerId }), enabled: customerId !== "" });
  const assign = useMutation(trpc.policies.assign.mutationOptions({ onSuccess: onDone }));
  return (
    <form
      className="row"
      onSubmit={(e) => {
        e.preventDefault();
        if (!customerId) return;
        assign.mutate({ policyId, target: machineId ? { machineId } : { customerId } });
      }}
    >
      <SelectField
        label="Customer"
        id={`c-${policyId}`}
        options={[{ value: "", label: "Choose…" }, ...(customers.data ?? []).map((c) => ({ value: c.id, label: c.name }))]}
        value={customerId}
        onChange={(e) => {
          setCustomerId(e.target.value);
          setMachineId("");
        }}
      />
      <SelectField
        label="Applies to"
        id={`m-${policyId}`}
        options={[{ value: "", label: "Customer default (all machines)" }, ...(machines.data ?? []).map((m) => ({ value: m.id, label: `Machine: ${m.name}` }))]}
        value={machineId}
        onChange={(e) => setMachineId(e.target.value)}
        disabled={!customerId}
      />
      <SubmitButton pending={assign.isPending} disabled={!customerId}>Assign</SubmitButton>
      <ErrorBanner message={errorMessage(assign.error)} />
      {assign.isSuccess ? <span className="ok-banner">Assigned</span> : null}
    </form>
  );
}

export function PoliciesPanel({ mspId, canWrite }: { mspId: string; canWrite: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const policies = useQuery(trpc.policies.list.queryOptions({ mspId }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.policies.list.queryKey({ mspId }) });
  const create = useMutation(trpc.policies.create.mutationOptions({ onSuccess: refresh }));
  const update = useMutation(trpc.policies.update.mutationOptions({ onSuccess: refresh }));
  const [editing, setEditing] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);

  return (
    <>
      <ErrorBanner message={errorMessage(policies.error)} />
      {policies.data?.length === 0 ? <p className="muted">No policies yet.</p> : null}
      {policies.data?.map((p) => (
        <div className="card" key={p.id} data-testid="policy">
          {editing === p.id ? (
            <PolicyForm
              initial={fromPolicy(p)}
              submitLabel="Save policy"
              onCancel={() => setEditing(null)}
              onSubmit={async (fields) => {
                await update.mutateAsync({ policyId: p.id, ...fields });
                setEditing(null);
              }}
            />
          ) : (
            <>
              <div className="row" style={{ justifyContent: "space-between" }}>
                <h2 style={{ margin: 0 }}>{p.name}</h2>
                {canWrite ? (
                  <button type="button" className="secondary" onClick={() => setEditing(p.id)}>
                    Edit
                  </button>
                ) : null}
              </div>
              <p className="muted">
                RPO {p.rpoSeconds}s · restore test every {p.restoreTestEveryHours}h · rescan every {p.rescanEveryHours}h · spool{" "}
                {(p.spoolLimitBytes / 1024 ** 3).toFixed(1)} GiB · keep {p.retention.keepWithinHours}h, {p.retention.hourly} hourly, {p.retention.daily} daily,{" "}
                {p.retention.weekly} weekly, {p.retention.monthly} monthly, {p.retention.yearly} yearly
              </p>
              <p className="muted">
                Include: {p.includePaths.length ? p.includePaths.join(", ") : "whole machine"} · Exclude: {p.excludePaths.join(", ") || "nothing"} · Volumes:{" "}
                {p.volumes.join(", ") || "none"} (every {p.volumeIntervalSeconds}s)
              </p>
              <p className="muted" data-testid="policy-consistency-summary">
                VSS {p.vss ? "on" : "off"} · pre-freeze: {p.preFreezeCommand ? <code>{p.preFreezeCommand}</code> : "none"} · post-thaw:{" "}
                {p.postThawCommand ? <code>{p.postThawCommand}</code> : "none"} · hook timeout {p.hookTimeoutSeconds}s
              </p>
              <p className="muted">
                Scrub every {p.scrubPeriodDays} days · repository check every {p.repoCheckEveryHours}h · offline alert after {p.offlineAlertMinutes} min · RPO
                missed after {p.rpoMissedFactor}× RPO
              </p>
              {canWrite ? <AssignForm mspId={mspId} policyId={p.id} onDone={refresh} /> : null}
            </>
          )}
        </div>
      ))}
      {canWrite ? (
        creating ? (
          <div className="card">
            <h2 style={{ marginTop: 0 }}>New policy</h2>
            <PolicyForm
              initial={policyDefaults}
              submitLabel="Create policy"
              onCancel={() => setCreating(false)}
              onSubmit={async (fields) => {
                await create.mutateAsync({ mspId, ...fields });
                setCreating(false);
              }}
            />
          </div>
        ) : (
          <button type="button" onClick={() => setCreating(true)}>
            New policy
          </button>
        )
      ) : null}
    </>
  );
}
