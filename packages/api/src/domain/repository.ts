/**
 * The API's bridge to @tidemark/backup: maps its errors onto tRPC codes and
 * opens a customer's repository for reading with the services' KEK.
 */
import { AgentError, customerFiles, PathNotFound, type PointFiles } from "@tidemark/backup";
import { TRPCError } from "@trpc/server";
import type { Services } from "../context";
import type { Tenant } from "../tenant";

const codes: Record<number, TRPCError["code"]> = { 400: "BAD_REQUEST", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT", 422: "UNPROCESSABLE_CONTENT" };

/** Runs a backup domain call; its typed errors become the matching tRPC error with the same message. */
export async function backupCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof AgentError) throw new TRPCError({ code: codes[e.status] ?? "INTERNAL_SERVER_ERROR", message: e.message, cause: e });
    if (e instanceof PathNotFound) throw new TRPCError({ code: "NOT_FOUND", message: e.message });
    throw e;
  }
}

/** The customer's files, read with its data key; the tenant gate has already placed the object in one customer. */
export async function openFiles(services: Services, tenant: Tenant): Promise<PointFiles> {
  if (!tenant.customerId) throw new Error("openFiles needs a customer-level object");
  if (!services.repositories) throw new TRPCError({ code: "PRECONDITION_FAILED", message: "Storage is not configured on this server, so recovery points cannot be read" });
  const { kek, blobs } = await services.repositories();
  const files = await customerFiles(services.database.db, kek, blobs, { mspId: tenant.mspId, customerId: tenant.customerId });
  if (!files) throw new TRPCError({ code: "NOT_FOUND", message: "This customer has no repository yet (no machine has enrolled)" });
  return files;
}

/** Restore-to-machine writes onto a server: customer users browse and download, only customer admins (and MSP staff) restore. */
