import { Suspense } from "react";
import { loadOrRefuse } from "~/server/access";
import { allowed, roleFor } from "~/server/roles";
import { serverCaller } from "~/server/session";
import { AlertCentre } from "./alert-centre";

export const dynamic = "force-dynamic";

/** MSP staff see their MSP's alerts (`?msp=` picks one); customer members with alerts.read their customer's. */
export default async function AlertsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const sp = await searchParams;
  const caller = await serverCaller();
  const me = await caller.me.get();
  const msps = me.memberships.filter((m) => m.kind === "msp");
  const wanted = typeof sp.msp === "string" ? sp.msp : undefined;
  const msp = msps.find((m) => m.mspId === wanted) ?? msps[0];
  const customer = msp ? undefined : me.memberships.find((m) => m.kind === "customer" && (typeof sp.customerId !== "string" || m.customerId === sp.customerId));
  const scope = msp ? { mspId: msp.mspId } : customer?.customerId ? { customerId: customer.customerId } : null;
  if (!scope) return <p className="muted">You have no organization with alerts.</p>;
  // The same gate as the list: a role without alerts.read (or MFA still to set up) gets the usual panel, not an empty page.
  const access = await loadOrRefuse(() => caller.alerts.counts(scope));
  if (!access.ok) return access.panel;
  const role = roleFor(me.memberships, { mspId: (msp ?? customer)!.mspId, customerId: customer?.customerId ?? undefined });
  return (
    <>
      <h1>Alerts{msp ? (msps.length > 1 ? ` — ${msp.name}` : "") : ` — ${customer!.name}`}</h1>
      {msp ? (
        <p className="muted">
          <a href={`/msp/${msp.mspId}/alerts`}>Channels and delivery log</a>
        </p>
      ) : null}
      <Suspense>
        <AlertCentre scope={scope} canAct={allowed(role, "alerts.manage")} />
      </Suspense>
    </>
  );
}
