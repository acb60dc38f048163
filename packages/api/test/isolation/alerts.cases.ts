/**
 * Isolation cases for the alerts router: one per procedure (the suite fails on a
 * procedure without one). seed() creates A1's alerts objects the cases attack.
 */
import { seedAlerts } from "../alerts-seed";
import type { Stack } from "../fixtures";
import type { Case, Ctx } from "./types";

export async function seed(stack: Stack, w: Ctx): Promise<Record<string, string>> {
  return { ...(await seedAlerts(stack, w)) };
}

const s = (w: Ctx) => w.seeded.alerts!;
const email = { kind: "email", name: "planted", targets: ["spy@evil.test"], minSeverity: "info" };

export const cases: Record<string, Case> = {
  "alerts.list": {
    inputs: (w) => [
      { mspId: w.mspA.id },
      { customerId: w.a1.id },
      { mspId: w.mspA.id, customerId: w.a1.id },
      { machineId: w.a1Machine.id },
      // The attacker's own tenant beside A1's customer or machine must not pass.
      { mspId: w.mspB.id, customerId: w.a1.id },
      { customerId: w.a2.id, machineId: w.a1Machine.id },
    ],
  },
  "alerts.counts": { inputs: (w) => [{ mspId: w.mspA.id }, { customerId: w.a1.id }, { mspId: w.mspB.id, customerId: w.a1.id }] },
  "alerts.get": { inputs: (w) => [{ alertId: s(w).alertId }] },
  "alerts.acknowledge": { inputs: (w) => [{ alertId: s(w).alertId }] },
  "alerts.resolve": { inputs: (w) => [{ alertId: s(w).alertId }] },
  "alerts.channelsList": { inputs: (w) => [{ mspId: w.mspA.id }, { mspId: w.mspA.id, customerId: w.a1.id }, { mspId: w.mspB.id, customerId: w.a1.id }] },
  "alerts.channelCreate": {
    inputs: (w) => [
      { mspId: w.mspA.id, ...email },
      { mspId: w.mspA.id, customerId: w.a1.id, ...email },
      // A channel in the attacker's own MSP attached to A1 would receive A1's alerts.
      { mspId: w.mspB.id, customerId: w.a1.id, ...email },
    ],
  },
  "alerts.channelUpdate": {
    inputs: (w) => [
      { channelId: s(w).a1ChannelId, targets: ["spy@evil.test"] },
      { channelId: s(w).mspChannelId, enabled: false },
      { channelId: s(w).mspChannelId, rotateSecret: true },
    ],
  },
  "alerts.channelDelete": { inputs: (w) => [{ channelId: s(w).a1ChannelId }, { channelId: s(w).mspChannelId }] },
  "alerts.sendTest": { inputs: (w) => [{ channelId: s(w).a1ChannelId }, { channelId: s(w).mspChannelId }] },
  "alerts.deliveries": {
    inputs: (w) => [
      { mspId: w.mspA.id },
      { mspId: w.mspA.id, alertId: s(w).alertId },
      { mspId: w.mspA.id, channelId: s(w).mspChannelId },
      // Own MSP id, A1's alert or channel: "not found", not an empty log.
      { mspId: w.mspB.id, alertId: s(w).alertId },
      { mspId: w.mspB.id, channelId: s(w).a1ChannelId },
    ],
  },
};
