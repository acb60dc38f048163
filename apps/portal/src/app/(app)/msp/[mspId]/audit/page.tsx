import { mspPage } from "~/server/page-context";
import { AuditPanel } from "./audit-panel";

export const dynamic = "force-dynamic";

export default async function AuditPage({ params }: { params: Promise<{ mspId: string }> }) {
  const { mspId } = await params;
  const page = await mspPage(mspId);
  if (!page.ok) return page.panel;
  return (
    <>
      <h1>Audit log</h1>
      <AuditPanel mspId={mspId} />
    </>
  );
}
