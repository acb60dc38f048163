"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { DeliveryStateBadge } from "~/components/alert-badges";
import { DataTable } from "~/components/data-table";
import { CopyButton, ErrorBanner } from "~/components/form";
import { errorMessage, fieldErrors } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";
import { ChannelForm, type ChannelRow, type ChannelValues } from "./channel-form";

type TestOutcome = { state: string; lastStatus: number | null; lastError: string | null };

/** A generated webhook secret is returned once: shown until dismissed, never again. */
function SecretOnce({ name, secret, onDone }: { name: string; secret: string; onDone: () => void }) {
  return (
    <div className="card ok-banner" data-testid="generated-secret">
      <p>
        Signing secret of <strong>{name}</strong> — copy it into the receiver now; it is not shown again.
      </p>
      <pre className="command" data-testid="generated-secret-value">
        {secret}
      </pre>
      <div className="actions">
        <CopyButton text={secret} />
        <button type="button" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

function ChannelTable({
  rows,
  canManage,
  outcomes,
  testing,
  onTest,
  onEdit,
  onDelete,
}: {
  rows: ChannelRow[];
  canManage: boolean;
  outcomes: Record<string, TestOutcome>;
  testing: string | null;
  onTest: (c: ChannelRow) => void;
  onEdit: (c: ChannelRow) => void;
  onDelete: (c: ChannelRow) => void;
}) {
  return (
    <DataTable
      rows={rows}
      rowTestId="channel"
      rowKey={(c) => c.id}
      empty="No channels here."
      columns={[
        { key: "name", header: "Name", cell: (c) => <strong>{c.name}</strong> },
        { key: "kind", header: "Kind", cell: (c) => (c.kind === "sms" ? "SMS" : c.kind) },
        {
          key: "targets",
          header: "Sends to",
          cell: (c) => (
            <>
              {c.targets.join(", ")}
              {c.kind === "webhook" ? <div className="muted" data-testid="channel-secret">secret: {c.hasSecret ? "set" : "not set"}</div> : null}
            </>
          ),
        },
        { key: "min", header: "Min severity", cell: (c) => c.minSeverity },
        { key: "enabled", header: "Enabled", cell: (c) => (c.enabled ? <span className="badge ok">on</span> : <span className="badge">off</span>) },
        {
          key: "test",
          header: "Test",
          cell: (c) => {
            const o = outcomes[c.id];
            return (
              <>
                <button type="button" className="secondary" disabled={testing !== null || !canManage} onClick={() => onTest(c)}>
                  {testing === c.id ? "Sending…" : "Send test"}
                </button>
                {o ? (
                  <div data-testid="test-outcome">
                    <DeliveryStateBadge state={o.state} /> {o.lastStatus ? <code>HTTP {o.lastStatus}</code> : null}{" "}
                    {o.lastError ? <span className="field-error">{o.lastError}</span> : null}
                  </div>
                ) : c.lastDelivery ? (
                  <div className="muted">
                    last {c.lastDelivery.event}: {c.lastDelivery.state}
                  </div>
                ) : null}
              </>
            );
          },
        },
        {
          key: "actions",
          header: "",
          cell: (c) =>
            canManage ? (
              <div className="actions">
                <button type="button" className="secondary" onClick={() => onEdit(c)}>
                  Edit
                </button>
                <button type="button" className="danger" onClick={() => onDelete(c)}>
                  Delete
                </button>
              </div>
            ) : null,
        },
      ]}
    />
  );
}

/** MSP default channels and per-customer overrides: create, edit, delete, send test. */
export function ChannelsPanel({ mspId, canManage }: { mspId: string; canManage: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const channels = useQuery(trpc.alerts.channelsList.queryOptions({ mspId }));
  const customers = useQuery(trpc.customers.list.queryOptions({ mspId }));
  const [editing, setEditing] = useState<ChannelRow | "new" | null>(null);
  const [secret, setSecret] = useState<{ name: string; value: string } | null>(null);
  const [outcomes, setOutcomes] = useState<Record<string, TestOutcome>>({});
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.alerts.pathKey() });
  const saved = (r: { channel: { name: string }; generatedSecret: string | null }) => {
    setEditing(null);
    if (r.generatedSecret) setSecret({ name: r.channel.name, value: r.generatedSecret });
    void refresh();
  };
  const create = useMutation(trpc.alerts.channelCreate.mutationOptions({ onSuccess: saved }));
  const update = useMutation(trpc.alerts.channelUpdate.mutationOptions({ onSuccess: saved }));
  const remove = useMutation(trpc.alerts.channelDelete.mutationOptions({ onSuccess: refresh }));
  const test = useMutation(
    trpc.alerts.sendTest.mutationOptions({
      onSuccess: (d, v) => {
        setOutcomes((o) => ({ ...o, [v.channelId]: { state: d.state, lastStatus: d.lastStatus, lastError: d.lastError } }));
        void refresh();
      },
      onError: (err, v) => setOutcomes((o) => ({ ...o, [v.channelId]: { state: "failed", lastStatus: null, lastError: errorMessage(err) } })),
    }),
  );
  const save = editing === "new" ? create : update;
  const submit = (v: ChannelValues) => {
    if (editing === "new") create.mutate({ mspId, ...v });
    else if (editing) {
      const { kind: _kind, customerId: _customer, ...changes } = v;
      update.mutate({ channelId: editing.id, ...changes });
    }
  };
  const rows = channels.data;
  const defaults = rows?.filter((c) => c.customerId === null) ?? [];
  const overrides = new Map<string, { name: string; rows: ChannelRow[] }>();
  for (const c of rows ?? []) {
    if (c.customerId === null) continue;
    const g = overrides.get(c.customerId) ?? { name: c.customerName ?? "Customer", rows: [] };
    g.rows.push(c);
    overrides.set(c.customerId, g);
  }
  const table = (list: ChannelRow[]) => (
    <ChannelTable
      rows={list}
      canManage={canManage}
      outcomes={outcomes}
      testing={test.isPending ? (test.variables?.channelId ?? null) : null}
      onTest={(c) => test.mutate({ channelId: c.id })}
      onEdit={(c) => {
        update.reset();
        setEditing(c);
      }}
      onDelete={(c) => {
        if (window.confirm(`Delete the channel ${c.name}? Its delivery log goes with it.`)) remove.mutate({ channelId: c.id });
      }}
    />
  );
  const errors = fieldErrors(save.error);
  return (
    <>
      <ErrorBanner message={errorMessage(channels.error ?? remove.error)} />
      {secret ? <SecretOnce name={secret.name} secret={secret.value} onDone={() => setSecret(null)} /> : null}
      {editing !== null ? (
        <ChannelForm
          key={editing === "new" ? "new" : editing.id}
          initial={editing === "new" ? undefined : editing}
          customers={customers.data?.map((c) => ({ id: c.id, name: c.name })) ?? []}
          errors={errors}
          formError={Object.keys(errors).length > 0 ? null : errorMessage(save.error)}
          pending={save.isPending}
          onSubmit={submit}
          onCancel={() => setEditing(null)}
        />
      ) : canManage ? (
        <button
          type="button"
          onClick={() => {
            create.reset();
            setEditing("new");
          }}
        >
          New channel
        </button>
      ) : null}
      {rows ? (
        <div data-testid="channels">
          <h2>MSP defaults (every customer)</h2>
          {defaults.length === 0 ? <p className="muted">No default channels: alerts are only shown in the portal unless a customer has its own.</p> : table(defaults)}
          {[...overrides.entries()].map(([id, g]) => (
            <section key={id} data-testid="channel-overrides">
              <h2>
                {g.name} <span className="muted">— replaces the defaults of the same kind</span>
              </h2>
              {table(g.rows)}
            </section>
          ))}
        </div>
      ) : null}
    </>
  );
}
