/** Two MSPs with customers and machines, written straight to the database. */
import { type Database, schema } from "@tidemark/db";

export async function twoMsps(database: Database) {
  const { db } = database;
  const [mspA] = await db.insert(schema.msps).values({ name: "MSP A" }).returning();
  const [mspB] = await db.insert(schema.msps).values({ name: "MSP B" }).returning();
  const [a1] = await db.insert(schema.customers).values({ mspId: mspA!.id, name: "A1 Dental" }).returning();
  const [a2] = await db.insert(schema.customers).values({ mspId: mspA!.id, name: "A2 Law" }).returning();
  const [b1] = await db.insert(schema.customers).values({ mspId: mspB!.id, name: "B1 Bakery" }).returning();
  const [a1Machine] = await db.insert(schema.machines).values({ mspId: mspA!.id, customerId: a1!.id, name: "a1-srv", os: "linux" }).returning();
  const [a2Machine] = await db.insert(schema.machines).values({ mspId: mspA!.id, customerId: a2!.id, name: "a2-srv", os: "linux" }).returning();
  const [b1Machine] = await db.insert(schema.machines).values({ mspId: mspB!.id, customerId: b1!.id, name: "b1-srv", os: "windows" }).returning();
  return { mspA: mspA!, mspB: mspB!, a1: a1!, a2: a2!, b1: b1!, a1Machine: a1Machine!, a2Machine: a2Machine!, b1Machine: b1Machine! };
}

export async function addChannel(
  database: Database,
  c: { mspId: string; customerId?: string | null; kind: "email" | "sms" | "webhook"; name: string; targets: string[]; minSeverity?: "critical" | "warning" | "info"; enabled?: boolean; secretEncrypted?: string },
) {
  const [row] = await database.db
    .insert(schema.alertChannels)
    .values({ ...c, customerId: c.customerId ?? null })
    .returning();
  return row!;
}
