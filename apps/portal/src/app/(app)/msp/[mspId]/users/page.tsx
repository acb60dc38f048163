import { mspRoles } from "@tidemark/auth/permissions";
import { MembersPanel } from "~/components/members-panel";
import { mspPage } from "~/server/page-context";
import { allowed } from "~/server/roles";

export const dynamic = "force-dynamic";

export default async function MspUsersPage({ params }: { params: Promise<{ mspId: string }> }) {
  const { mspId } = await params;
  const page = await mspPage(mspId);
  if (!page.ok) return page.panel;
  return (
    <>
      <h1>{page.msp.name}: staff</h1>
      <p className="muted">MSP staff work across all customers. Customer users are managed on each customer&apos;s Users page.</p>
      <MembersPanel mspId={mspId} roles={mspRoles} canInvite={allowed(page.role, "members.invite")} canManage={allowed(page.role, "members.manage")} />
    </>
  );
}
