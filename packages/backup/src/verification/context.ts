/**
 * What every verification run of one customer needs: the database, the
 * customer's container and its repository keys (unwrapped from the KEK in
 * memory only), and where alerts go.
 */
import type { DbOrTx } from "@tidemark/db";
import type { BlobStore } from "@tidemark/storage";
import { deriveKeys, type RepoKeys } from "../engine";
import { type CustomerScope, customerDataKey } from "../kek";
import type { AgentServices } from "../services";
import type { AlertSink } from "./alerts";

export type VerificationServices = Pick<AgentServices, "database" | "kek" | "blobs"> & { alerts: AlertSink; log?: (line: string) => void };

export type CustomerRepo = { db: DbOrTx; store: BlobStore; keys: RepoKeys; scope: CustomerScope; alerts: AlertSink; log: (line: string) => void };

/** null when the customer has no repository yet (no machine ever enrolled): nothing to verify. */
export async function openCustomerRepo(svc: VerificationServices, scope: CustomerScope): Promise<CustomerRepo | null> {
  const { db } = svc.database;
  const dataKey = await customerDataKey(db, svc.kek, scope);
  if (!dataKey) return null;
  return {
    db,
    store: svc.blobs.container(scope.customerId).store,
    keys: deriveKeys(dataKey),
    scope: { mspId: scope.mspId, customerId: scope.customerId },
    alerts: svc.alerts,
    log: svc.log ?? (() => {}),
  };
}
