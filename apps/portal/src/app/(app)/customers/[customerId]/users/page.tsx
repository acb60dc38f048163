import { customerRoles } from "@tidemark/auth/permissions";
import { MembersPanel } from "~/components/members-panel";
import { customerPage } from "~/server/page-context";
import { allowed } from "~/server/roles";

export const dynamic = "force-dynamic";

export default async function CustomerUsersPage({ params }: { params: Promise<{ customerId: string }> }) {
  const { customerId } = await params;
  const page = await customerPage(customerId);
  if (!page.ok) return page.panel;
  const { customer, role } = page;
  return (
    <>
      <p className="muted">
        <a href={`/customers/${customerId}`}>{customer.name}</a>
      </p>
      <h1>{customer.name}: users</h1>
      <MembersPanel
        mspId={customer.mspId}
        customerId={customerId}
        roles={customerRoles}
        canInvite={allowed(role, "members.invite")}
        canManage={allowed(role, "members.manage")}
      />
    </>
  );
}
