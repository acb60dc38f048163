"use client";
import { formatBytes } from "~/lib/format";

type Job = { id: string; state: string; progress: Record<string, unknown>; result: Record<string, unknown> | null; paths: string[]; destination: string | null; conflict: string; createdAt: Date | string };

const stateBadge: Record<string, string> = { queued: "", running: "warn", succeeded: "ok", failed: "bad", cancelled: "" };

/** One restore job's live state: progress bar while it runs, outcome once the agent reports it. */
export function RestoreProgress({ job }: { job: Job }) {
  const p = job.progress as { bytesDone?: number; bytesTotal?: number; filesDone?: number; filesTotal?: number };
  const r = job.result as { restoredFiles?: number; failed?: Array<{ path: string; error: string }> } | null;
  return (
    <div data-testid="restore-progress" data-state={job.state}>
      <span className={`badge ${stateBadge[job.state] ?? ""}`} data-testid="restore-state">
        {job.state}
      </span>{" "}
      {job.state === "queued" ? <span className="muted">waiting for the agent to pick it up…</span> : null}
      {job.state === "running" && p.bytesTotal ? (
        <>
          <progress max={p.bytesTotal} value={p.bytesDone ?? 0} />
          <span className="muted">
            {p.filesDone ?? 0}/{p.filesTotal ?? 0} files · {formatBytes(p.bytesDone ?? 0)} of {formatBytes(p.bytesTotal)}
          </span>
        </>
      ) : null}
      {r ? (
        <span className="muted">
          {" "}
          {r.restoredFiles ?? 0} files restored{r.failed && r.failed.length > 0 ? `, ${r.failed.length} failed` : ""}
        </span>
      ) : null}
      {r?.failed && r.failed.length > 0 ? (
        <ul className="field-error">
          {r.failed.slice(0, 20).map((f) => (
            <li key={f.path}>
              {f.path}: {f.error}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
