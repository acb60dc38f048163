import { redirect } from "next/navigation";
import { mspPage } from "~/server/page-context";
import { allowed } from "~/server/roles";
import { ChannelsPanel } from "./channels-panel";
import { DeliveriesPanel } from "./deliveries-panel";

export const dynamic = "force-dynamic";

const forwarded = ["alert", "customerId", "machineId", "severity", "state", "condition"];

export default async function MspAlertsPage({ params, searchParams }: { params: Promise<{ mspId: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { mspId } = await params;
  const sp = await searchParams;
  // Links built as /msp/<id>/alerts?alert=… mean the alert centre, not the settings.
  if (forwarded.some((k) => sp[k])) {
    const q = new URLSearchParams({ msp: mspId });
    for (const k of forwarded) if (typeof sp[k] === "string") q.set(k, sp[k] as string);
    redirect(`/alerts?${q}`);
  }
  const page = await mspPage(mspId);
  if (!page.ok) return page.panel;
  return (
    <>
      <p className="muted">
        <a href={`/alerts?msp=${mspId}`}>Alert centre</a>
      </p>
      <h1>Alert channels</h1>
      <p className="muted">Where alerts go. MSP defaults apply to every customer; a customer&apos;s own channel of a kind replaces the default of that kind for it.</p>
      <ChannelsPanel mspId={mspId} canManage={allowed(page.role, "alertChannels.manage")} />
      <DeliveriesPanel mspId={mspId} />
    </>
  );
}
