import { loadOrRefuse } from "./access";
import { roleFor } from "./roles";
import { serverCaller } from "./session";

/** Everything an MSP page needs, or the refusal panel when the viewer has no access. */
export async function mspPage(mspId: string) {
  const caller = await serverCaller();
  const msp = await loadOrRefuse(() => caller.msp.get({ mspId }));
  if (!msp.ok) return msp;
  const me = await caller.me.get();
  return { ok: true as const, caller, me, msp: msp.value, role: roleFor(me.memberships, { mspId }) };
}

/** Everything a customer page needs, or the refusal panel when the viewer has no access. */
export async function customerPage(customerId: string) {
  const caller = await serverCaller();
  const customer = await loadOrRefuse(() => caller.customers.get({ customerId }));
  if (!customer.ok) return customer;
  const me = await caller.me.get();
  const { mspId } = customer.value;
  return {
    ok: true as const,
    caller,
    me,
    customer: customer.value,
    role: roleFor(me.memberships, { mspId, customerId }),
    /** MSP staff see the customer inside their MSP; customer users see only this customer. */
    mspView: me.memberships.some((m) => m.kind === "msp" && m.mspId === mspId),
  };
}
