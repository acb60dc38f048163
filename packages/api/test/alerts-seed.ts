/** A1's alert objects for the isolation, role and router tests: an open alert, an MSP default channel, an A1 override, their deliveries. */
import { raiseAlert } from "@tidemark/alerts";
import { schema } from "@tidemark/db";
import type { Stack, World } from "./fixtures";

export type AlertSeed = { alertId: string; mspChannelId: string; a1ChannelId: string; deliveryId: string };

export async function seedAlerts(stack: Stack, w: Pick<World, "mspA" | "a1" | "a1Machine">): Promise<AlertSeed> {
  const { db } = stack.database;
  const [mspChannel] = await db
    .insert(schema.alertChannels)
    .values({ mspId: w.mspA.id, kind: "webhook", name: "A NOC hook", targets: ["https://noc.a.test/hook"], secretEncrypted: "sealed-not-used", minSeverity: "info" })
    .returning();
  const [a1Channel] = await db
    .insert(schema.alertChannels)
    .values({ mspId: w.mspA.id, customerId: w.a1.id, kind: "email", name: "A1 IT", targets: ["it@a1.test"], minSeverity: "info" })
    .returning();
  const { alertId } = await raiseAlert(db, {
    mspId: w.mspA.id,
    customerId: w.a1.id,
    machineId: w.a1Machine.id,
    condition: "agent_offline",
    severity: "warning",
    subject: w.a1Machine.id,
    title: "Agent offline",
    details: { minutes: 42 },
  });
  const [delivery] = await db.select().from(schema.alertDeliveries);
  return { alertId, mspChannelId: mspChannel!.id, a1ChannelId: a1Channel!.id, deliveryId: delivery!.id };
}
