import { loadOrRefuse } from "~/server/access";
import { allowed, roleFor } from "~/server/roles";
import { serverCaller } from "~/server/session";
import { MachineView } from "./machine-view";

export const dynamic = "force-dynamic";

export default async function MachinePage({ params, searchParams }: { params: Promise<{ machineId: string }>; searchParams: Promise<{ point?: string | string[] }> }) {
  const { machineId } = await params;
  // Links from alerts open a recovery point directly.
  const { point } = await searchParams;
  const caller = await serverCaller();
  const machine = await loadOrRefuse(() => caller.machines.get({ machineId }));
  if (!machine.ok) return machine.panel;
  const m = machine.value;
  const me = await caller.me.get();
  const role = roleFor(me.memberships, { mspId: m.mspId, customerId: m.customerId });
  return (
    <>
      <p className="muted">
        <a href={`/customers/${m.customerId}`}>Machines</a>
      </p>
      <h1 data-testid="machine-name">{m.name}</h1>
      <p className="muted">
        {m.os ?? "unknown OS"} · agent {m.agentVersion ?? "—"} · policy {m.policy ? m.policy.name : "default"}
      </p>
      <MachineView
        machineId={machineId}
        customerId={m.customerId}
        initialPoint={typeof point === "string" && /^[0-9a-f-]{36}$/i.test(point) ? point : null}
        canDownload={allowed(role, "files.download")}
        canBrowse={allowed(role, "files.browse")}
        // Customer users browse and download; restoring onto a server needs a customer admin or MSP staff.
        canRestore={allowed(role, "restores.request")}
        // Restore tests run on the service's side and are MSP work (the API gates them as MSP procedures).
        canVerify={allowed(role, "restores.request") && me.memberships.some((x) => x.kind === "msp" && x.mspId === m.mspId)}
      />
    </>
  );
}
