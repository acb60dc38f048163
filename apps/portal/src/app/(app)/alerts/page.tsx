import { Suspense } from "react";
import { serverCaller } from "~/server/session";
import { allowed, roleFor } from "~/server/roles";
import { AlertCentre } from "./alert-centre";

export const dynamic = "force-dynamic";

/** MSP staff see their MSP's alerts; customer users see their own customer's. */
export default async function AlertsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const sp = await searchParams;
  const me = await (await serverCaller()).me.get();
  const msps = me.memberships.filter((m) => m.kind === "msp");
  const wanted = typeof sp.msp === "string" ? sp.msp : undefined;
  const msp = msps.find((m) => m.mspId === wanted) ?? msps[0];
  if (msp) {
    return (
      <>
        <h1>Alerts{msps.length > 1 ? ` — ${msp.name}` : ""}</h1>
        <p className="muted">
          <a href={`/msp/${msp.mspId}/alerts`}>Channels and delivery log</a>
        </p>
        <Suspense>
          <AlertCentre scope={{ mspId: msp.mspId }} canAct={allowed(roleFor(me.memberships, { mspId: msp.mspId }), "alerts.manage")} />
        </Suspense>
      </>
    );
  }
  const customer = me.memberships.find((m) => m.kind === "customer" && (typeof sp.customerId !== "string" || m.customerId === sp.customerId));
  if (!customer?.customerId) return <p className="muted">You have no organization with alerts.</p>;
  return (
    <>
      <h1>Alerts — {customer.name}</h1>
      <Suspense>
        <AlertCentre scope={{ customerId: customer.customerId }} canAct={allowed(roleFor(me.memberships, { mspId: customer.mspId, customerId: customer.customerId }), "alerts.manage")} />
      </Suspense>
    </>
  );
}
