import { headers } from "next/headers";
import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { SignOutButton } from "~/components/sign-out";
import { getSession, serverCaller } from "~/server/session";

export const dynamic = "force-dynamic";

export default async function AppLayout({ children }: { children: ReactNode }) {
  const session = await getSession();
  if (!session) {
    const path = (await headers()).get("x-tidemark-path");
    redirect(path && path !== "/" ? `/sign-in?next=${encodeURIComponent(path)}` : "/sign-in");
  }
  const me = await (await serverCaller()).me.get();
  const msps = me.memberships.filter((m) => m.kind === "msp");
  const customers = me.memberships.filter((m) => m.kind === "customer");
  return (
    <>
      <header className="topbar">
        <a className="brand" href="/">
          Tidemark
        </a>
        {msps.map((m) => (
          <nav key={m.mspId} className="row" aria-label={m.name}>
            <a href={`/msp/${m.mspId}`}>{msps.length > 1 ? m.name : "Customers"}</a>
            <a href={`/msp/${m.mspId}/users`}>Users</a>
            <a href={`/msp/${m.mspId}/policies`}>Policies</a>
            <a href={`/msp/${m.mspId}/audit`}>Audit log</a>
          </nav>
        ))}
        {customers.map((m) => (
          <a key={m.customerId} href={`/customers/${m.customerId}`}>
            {m.name}
          </a>
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
