import { mspPage } from "~/server/page-context";
import { allowed } from "~/server/roles";
import { PoliciesPanel } from "./policies-panel";

export const dynamic = "force-dynamic";

export default async function PoliciesPage({ params }: { params: Promise<{ mspId: string }> }) {
  const { mspId } = await params;
  const page = await mspPage(mspId);
  if (!page.ok) return page.panel;
  return (
    <>
      <h1>Backup policies</h1>
      <p className="muted">A policy applies to a customer (its default for every machine) or to one machine, which overrides the customer default.</p>
      <PoliciesPanel mspId={mspId} canWrite={allowed(page.role, "policies.write")} />
    </>
  );
}
