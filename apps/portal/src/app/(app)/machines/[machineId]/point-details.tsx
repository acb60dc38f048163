"use client";
import { useQuery } from "@tanstack/react-query";
import { ErrorBanner } from "~/components/form";
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

export function PointDetails({ pointId, canBrowse }: { pointId: string; canBrowse: boolean }) {
  const trpc = useTRPC();
  const p = useQuery(trpc.points.get.queryOptions({ pointId }));
  const d = p.data;
  const stat = (k: string) => (d ? Number(d.stats[k] ?? 0) : 0);
  return (
    <section className="card" data-testid="point-details">
      <h2 style={{ marginTop: 0 }}>Recovery point</h2>
      <ErrorBanner message={errorMessage(p.error)} />
      {d ? (
        <table>
          <tbody>
            <tr>
              <th>Time</th>
              <td data-testid="point-time">{new Date(d.time).toLocaleString()}</td>
            </tr>
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
