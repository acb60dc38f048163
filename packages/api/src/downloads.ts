/**
 * GET /api/files/download?pointId=…&path=… — not tRPC: the body is a byte
 * stream (a file, or a folder as a ZIP) decrypted and verified on the fly.
 * Same session and the same tenant gate as the procedures (files.download),
 * so another tenant's point is a 404, exactly like a missing one.
 */
import { openDownload, pointRoot } from "@tidemark/backup";
import { auditWith, type Tx } from "@tidemark/db";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { z } from "zod";
import { actorOf } from "./audit";
import { createTRPCContext, type Services } from "./context";
import { backupCall, openFiles } from "./domain/repository";
import { pointId, pointPath } from "./router/ids";
import { resolveTenant } from "./tenant";

export const downloadQuery = z.object({ pointId, path: pointPath.default("") });

function problem(status: number, message: string): Response {
  return Response.json({ error: { message } }, { status, headers: { "cache-control": "no-store" } });
}

/** RFC 6266: an ASCII fallback plus the exact UTF-8 name. */
function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

function toStream(body: AsyncIterable<Buffer>, onError: (e: unknown) => void): ReadableStream<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await it.next();
        if (done) controller.close();
        else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      } catch (e) {
        onError(e);
        // Erroring the stream aborts the HTTP response: the browser shows a failed download, never wrong bytes.
        controller.error(e);
      }
    },
    async cancel() {
      await it.return?.();
    },
  }, { highWaterMark: 2 });
}

export async function handleDownload(req: Request, services: Services, log: (msg: string, err: unknown) => void = console.error): Promise<Response> {
  const url = new URL(req.url);
  const parsed = downloadQuery.safeParse({ pointId: url.searchParams.get("pointId") ?? undefined, path: url.searchParams.get("path") ?? undefined });
  if (!parsed.success) return problem(400, parsed.error.issues.map((i) => `${i.path.join(".") || "query"}: ${i.message}`).join("; "));
  const ctx = await createTRPCContext({ headers: req.headers, services });
  if (!ctx.session) return problem(401, "Sign in to continue");
  try {
    const { db } = services.database;
    const tenant = await resolveTenant(db, ctx.session.user, parsed.data, "files.download", "customer");
    const download = await backupCall(async () => {
      const point = await pointRoot(db, tenant.scope, parsed.data.pointId);
      const files = await openFiles(services, tenant);
      return openDownload(files, point, parsed.data.path);
    });
    await db.transaction((tx) =>
      auditWith(tx as Tx, actorOf(ctx))({
        mspId: tenant.mspId,
        customerId: tenant.customerId,
        action: "files.download",
        targetType: "recovery_point",
        targetId: parsed.data.pointId,
        metadata: { path: parsed.data.path || "/", zip: download.size === null },
      }),
    );
    const headers = new Headers({ "content-type": download.contentType, "content-disposition": contentDisposition(download.filename), "cache-control": "no-store", "x-content-type-options": "nosniff" });
    if (download.size !== null) headers.set("content-length", String(download.size));
    return new Response(toStream(download.body, (e) => log(`download ${parsed.data.pointId}:${parsed.data.path} failed mid-stream`, e)), { status: 200, headers });
  } catch (e) {
    if (e instanceof TRPCError) return problem(getHTTPStatusCodeFromError(e), e.message);
    log("download failed", e);
    return problem(500, "The download could not start; see the server log");
  }
}
