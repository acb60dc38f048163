import { lastHeartbeat } from "@tidemark/worker";
import { getRuntime } from "~/server/runtime";

export const dynamic = "force-dynamic";

export async function GET() {
  try {
    const runtime = await getRuntime();
    await runtime.database.query("select 1");
    // Only meaningful once some worker (in-process or standalone) has started pg-boss.
    const heartbeat = await lastHeartbeat(runtime.database).catch(() => null);
    return Response.json({ ok: true, database: runtime.database.kind, worker: runtime.worker ? "in-process" : "external", heartbeat });
  } catch (err) {
    return Response.json({ ok: false, error: err instanceof Error ? err.message : String(err) }, { status: 503 });
  }
}
