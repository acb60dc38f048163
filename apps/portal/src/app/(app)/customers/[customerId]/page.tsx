import { customerPage } from "~/server/page-context";
import { allowed } from "~/server/roles";
import { DashboardPanel } from "./dashboard-panel";
import { EnrollmentPanel } from "./enrollment-panel";
import { MachinesPanel } from "./machines-panel";
import { QuotaPanel } from "./quota-panel";

export const dynamic = "force-dynamic";

export default async function CustomerPage({ params }: { params: Promise<{ customerId: string }> }) {
  const { customerId } = await params;
  const page = await customerPage(customerId);
  if (!page.ok) return page.panel;
  const { customer, role, mspView } = page;
  return (
    <>
      <p className="muted">
        {mspView ? <a href={`/msp/${customer.mspId}`}>Customers</a> : "Your organization"}
        {" · "}
        <a href={`/customers/${customerId}/users`}>Users</a>
      </p>
      <h1 data-testid="customer-name">{customer.name}</h1>
      <DashboardPanel customerId={customerId} />
      {mspView ? <QuotaPanel customerId={customerId} canWrite={allowed(role, "customers.write")} /> : null}
      <MachinesPanel customerId={customerId} canRevoke={mspView && allowed(role, "machines.enroll")} />
      {allowed(role, "machines.enroll") ? <EnrollmentPanel customerId={customerId} /> : null}
    </>
  );
}
