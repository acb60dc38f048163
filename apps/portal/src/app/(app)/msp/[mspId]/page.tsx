import { mspPage } from "~/server/page-context";
import { CustomersPanel } from "./customers-panel";

export const dynamic = "force-dynamic";

export default async function MspDashboard({ params }: { params: Promise<{ mspId: string }> }) {
  const { mspId } = await params;
  const page = await mspPage(mspId);
  if (!page.ok) return page.panel;
  return (
    <>
      <h1>{page.msp.name}</h1>
      <CustomersPanel mspId={mspId} />
    </>
  );
}
