/**
 * Customer data keys at rest: AES-256-GCM under the service KEK, with the
 * customer id bound as associated data. No engine code here, so the agent
 * routes can use it without bundling the engine.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { type DbOrTx, schema, scopeToCustomer } from "@tidemark/db";

export type CustomerScope = { mspId: string; customerId: string };
export type Kek = { key: Buffer; id: string };

/** Names a KEK without revealing it, so a rotated KEK can be told apart from the one a row was wrapped with. */
export function kekFrom(key: Buffer): Kek {
  if (key.length !== 32) throw new Error("TIDEMARK_KEK must be 32 bytes");
  return { key, id: `kek-${createHash("sha256").update(key).digest("hex").slice(0, 12)}` };
}

/** The customer id is bound as associated data: a wrapped key copied onto another customer's row does not open. */
const aad = (customerId: string) => Buffer.from(`tidemark-customer-key-v1:${customerId}`);

export function wrapDataKey(kek: Kek, customerId: string, dataKey: Buffer): string {
  const nonce = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", kek.key, nonce);
  c.setAAD(aad(customerId));
  return Buffer.concat([nonce, c.update(dataKey), c.final(), c.getAuthTag()]).toString("base64");
}

export function unwrapDataKey(kek: Kek, customerId: string, wrapped: string): Buffer {
  const raw = Buffer.from(wrapped, "base64");
  if (raw.length !== 12 + 32 + 16) throw new Error("wrapped customer key has the wrong length");
  const d = createDecipheriv("aes-256-gcm", kek.key, raw.subarray(0, 12));
  d.setAAD(aad(customerId));
  d.setAuthTag(raw.subarray(44));
  try {
    return Buffer.concat([d.update(raw.subarray(12, 44)), d.final()]);
  } catch {
    throw new Error(`customer ${customerId}: data key does not unwrap with ${kek.id} (was TIDEMARK_KEK changed?)`);
  }
}

/** For server-side reads (downloads, verification): the customer's data key, or null before the first enrolment. */
export async function customerDataKey(db: DbOrTx, kek: Kek, scope: CustomerScope): Promise<Buffer | null> {
  const [row] = await db.select({ wrappedKey: schema.customerKeys.wrappedKey }).from(schema.customerKeys).where(scopeToCustomer(schema.customerKeys, scope));
  return row ? unwrapDataKey(kek, scope.customerId, row.wrappedKey) : null;
}
