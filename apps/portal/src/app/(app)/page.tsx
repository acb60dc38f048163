import { redirect } from "next/navigation";
import { serverCaller } from "~/server/session";

export const dynamic = "force-dynamic";

/** Everyone lands where their membership lives: MSP staff on the MSP, customer users on their customer. */
export default async function Home() {
  const me = await (await serverCaller()).me.get();
  const msp = me.memberships.find((m) => m.kind === "msp");
  if (msp) redirect(`/msp/${msp.mspId}`);
  const customer = me.memberships.find((m) => m.kind === "customer");
  if (customer?.customerId) redirect(`/customers/${customer.customerId}`);
  redirect("/onboarding");
}
