"use client";
import { useQuery } from "@tanstack/react-query";
import { VerdictBadge } from "~/components/alert-badges";
import { ErrorBanner } from "~/components/form";
import { formatDuration } from "~/components/durations";
import type { RestoreTestRow } from "~/components/restore-tests-table";
import { errorMessage } from "~/lib/errors";
import { formatBytes } from "~/lib/format";
import { useTRPC } from "~/lib/trpc";

function Changes({ pointId }: { pointId: string }) {
  const trpc = useTRPC();
  const c = useQuery(trpc.points.changes.queryOptions({ pointId, limit: 200 }));
  if (c.error) return <ErrorBanner message={errorMessage(c.error)} />;
  if (!c.data) return <span className="muted">…</span>;
  const d = c.data;
  return (
    <details data-testid="point-changes">
      <summary>
        {d.firstPoint ? "first point: " : ""}
        {d.added} added, {d.modified} modified, {d.deleted} deleted
      </summary>
      <ul>
        {d.changes.map((x) => (
          <li key={`${x.change}:${x.path}`}>
            <span className={`badge ${x.change === "deleted" ? "bad" : x.change === "added" ? "ok" : "warn"}`}>{x.change}</span> <code>{x.path}</code>
          </li>
        ))}
      </ul>
      {d.truncated ? <p className="muted">First {d.changes.length} shown.</p> : null}
    </details>
  );
}

/** What verification knows about a point (`verification.pointDamage`): damaged/healed and the files that need bad chunks. */
export type PointHealth = {
  health: "ok" | "damaged" | "healed";
  detectedAt: string | null;
  healedAt: string | null;
  files: string[];
  chunks: { total: number; open: number };
};

function HealthRows({ health, tests }: { health?: PointHealth; tests?: RestoreTestRow[] }) {
  const h = health?.health ?? "ok";
  const latest = tests?.[0];
  return (
    <>
      <tr>
        <th>Health</th>
        <td data-testid="point-health">
          <span className={`badge ${h === "damaged" ? "bad" : "ok"}`}>{h}</span>
          {health && h === "damaged" ? (
            <>
              {" "}
              <span className="muted">
                {health.detectedAt ? `since ${new Date(health.detectedAt).toLocaleString()}: ` : ""}
                {health.chunks.open} of {health.chunks.total} needed chunk{health.chunks.total === 1 ? "" : "s"} still bad or missing; the agent re-uploads them where
                the source still has the data.
              </span>
              <div>Affected files:</div>
              <ul data-testid="point-damaged-files">
                {health.files.slice(0, 200).map((f) => (
                  <li key={f}>
                    <code>{f}</code>
                  </li>
                ))}
                {health.files.length > 200 ? <li className="muted">… and {health.files.length - 200} more</li> : null}
              </ul>
            </>
          ) : null}
          {health && h === "healed" && health.healedAt ? <span className="muted"> healed {new Date(health.healedAt).toLocaleString()}</span> : null}
        </td>
      </tr>
      <tr>
        <th>Verified restore</th>
        <td data-testid="point-restore-test">
          {latest ? (
            <>
              <VerdictBadge state={latest.state} /> <span className="muted">{new Date(latest.startedAt ?? Date.now()).toLocaleString()} · {formatDuration(latest.durationMs)} · {latest.files} files</span>
              {latest.findings?.length ? (
                <ul>
                  {latest.findings.map((f, i) => (
                    <li key={i} className="field-error">
                      {f.path ? <code>{f.path}</code> : null} {f.problem}
                    </li>
                  ))}
                </ul>
              ) : null}
            </>
          ) : (
            <span className="muted">not restore-tested</span>
          )}
        </td>
      </tr>
    </>
  );
}

export function PointDetails({ pointId, canBrowse }: { pointId: string; canBrowse: boolean }) {
  const trpc = useTRPC();
  const p = useQuery(trpc.points.get.queryOptions({ pointId }));
  const health = useQuery({ ...trpc.verification.damage.queryOptions({ pointId }), refetchInterval: 15_000 });
  const tests = useQuery({
    ...trpc.verification.restoreTests.queryOptions({ pointId, limit: 5 }),
    refetchInterval: (q) => (q.state.data?.some((t) => t.state === "running") ? 2000 : 15_000),
  });
  const d = p.data;
  const stat = (k: string) => (d ? Number(d.stats[k] ?? 0) : 0);
  return (
    <section className="card" data-testid="point-details">
      <h2 style={{ marginTop: 0 }}>Recovery point</h2>
      <ErrorBanner message={errorMessage(p.error ?? health.error ?? tests.error)} />
      {d ? (
        <table>
          <tbody>
            <tr>
              <th>Time</th>
              <td data-testid="point-time">{new Date(d.time).toLocaleString()}</td>
            </tr>
            <HealthRows health={health.data} tests={tests.data} />
            <tr>
              <th>Consistency</th>
              <td>
                <span className={`badge ${d.consistency === "application" ? "ok" : ""}`}>{d.consistency}-consistent</span>
              </td>
            </tr>
            <tr>
              <th>Sources</th>
              <td>{d.sources.join(", ") || "—"}</td>
            </tr>
            <tr>
              <th>Files / folders</th>
              <td>
                {stat("files")} / {stat("dirs")}
              </td>
            </tr>
            {canBrowse ? (
              <tr>
                <th>Files changed</th>
                <td>
                  <Changes pointId={pointId} />
                </td>
              </tr>
            ) : null}
            <tr>
              <th>Protected</th>
              <td>{formatBytes(stat("bytes"))}</td>
            </tr>
            <tr>
              <th>Read (changed)</th>
              <td data-testid="point-changed">{formatBytes(stat("readBytes"))}</td>
            </tr>
            <tr>
              <th>New data</th>
              <td data-testid="point-new">
                {formatBytes(stat("newBytes"))} in {stat("newChunks")} chunks, {formatBytes(stat("storedBytes"))} stored
              </td>
            </tr>
            {d.volumes.length > 0 ? (
              <tr>
                <th>Volumes</th>
                <td>{d.volumes.map((v) => `${v.name} (${formatBytes(v.size)})`).join(", ")}</td>
              </tr>
            ) : null}
            <tr>
              <th>Errors</th>
              <td>
                {d.errors.length === 0 ? (
                  <span className="muted">none</span>
                ) : (
                  <ul data-testid="point-errors">
                    {d.errors.map((e) => (
                      <li key={e.path}>
                        <code>{e.path}</code>: {e.error}
                      </li>
                    ))}
                  </ul>
                )}
              </td>
            </tr>
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
