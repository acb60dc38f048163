import { headers } from "next/headers";
import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { SignOutButton } from "~/components/sign-out";
import { getSession, serverCaller } from "~/server/session";

export const dynamic = "force-dynamic";

function AlertsLink({ href, open }: { href: string; open: number | null }) {
  return (
    <a href={href} data-testid="nav-alerts">
      Alerts
      {open ? (
        <span className="badge bad" style={{ marginLeft: ".35rem", background: "#fff" }} data-testid="nav-alerts-open" aria-label={`${open} open`}>
          {open}
        </span>
      ) : null}
    </a>
  );
}

export default async function AppLayout({ children }: { children: ReactNode }) {
  const session = await getSession();
  if (!session) {
    const path = (await headers()).get("x-tidemark-path");
    redirect(path && path !== "/" ? `/sign-in?next=${encodeURIComponent(path)}` : "/sign-in");
  }
  const caller = await serverCaller();
  const me = await caller.me.get();
  const msps = me.memberships.filter((m) => m.kind === "msp");
  const customers = me.memberships.filter((m) => m.kind === "customer");
  // The badge is a convenience: a refusal (a role without alerts.read) or a failure hides it, never the page.
  const openAlerts = async (scope: { mspId: string } | { customerId: string }) => {
    try {
      return (await caller.alerts.counts(scope)).open;
    } catch {
      return null;
    }
  };
  const mspOpen = await Promise.all(msps.map((m) => openAlerts({ mspId: m.mspId })));
  const customerOpen = msps.length > 0 ? [] : await Promise.all(customers.map((m) => (m.customerId ? openAlerts({ customerId: m.customerId }) : null)));
  return (
    <>
      <header className="topbar">
        <a className="brand" href="/">
          Tidemark
        </a>
        {msps.map((m, i) => (
          <nav key={m.mspId} className="row" aria-label={m.name}>
            <a href={`/msp/${m.mspId}`}>{msps.length > 1 ? m.name : "Customers"}</a>
            <AlertsLink href={msps.length > 1 ? `/alerts?msp=${m.mspId}` : "/alerts"} open={mspOpen[i] ?? null} />
            <a href={`/msp/${m.mspId}/users`}>Users</a>
            <a href={`/msp/${m.mspId}/policies`}>Policies</a>
            <a href={`/msp/${m.mspId}/audit`}>Audit log</a>
          </nav>
        ))}
        {customers.map((m, i) => (
          <span key={m.customerId} className="row">
            <a href={`/customers/${m.customerId}`}>{m.name}</a>
            {customerOpen[i] !== undefined && customerOpen[i] !== null ? <AlertsLink href={`/alerts?customerId=${m.customerId}`} open={customerOpen[i]} /> : null}
          </span>
        ))}
        <a href="/settings/security">Security</a>
        <span className="spacer" />
        <span className="who" data-testid="signed-in-as">
          {session.user.email}
        </span>
        <SignOutButton />
      </header>
      <main>{children}</main>
    </>
  );
}
