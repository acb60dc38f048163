import { formatBytes } from "~/lib/format";
import { VerdictBadge } from "./alert-badges";
import { DataTable } from "./data-table";
import { formatDuration } from "./durations";

type When = Date | string | null | undefined;

/** The fields of a `restore_tests` row the history shows (the point's time when the router joins it). */
export type RestoreTestRow = {
  id: string;
  recoveryPointId: string;
  pointTime?: When;
  trigger: string;
  state: string;
  startedAt: When;
  finishedAt?: When;
  durationMs?: number | null;
  files: number;
  bytes: number;
  fsChecks?: { volume: string; tool: string; ok: boolean; output: string }[];
  findings?: { path?: string; problem: string }[];
};

const time = (d: When) => (d ? new Date(d).toLocaleString() : "—");

/** Restore test history: which point was restored, the verdict, and what the check found. */
export function RestoreTestsTable({ rows, onPickPoint }: { rows: readonly RestoreTestRow[] | undefined; onPickPoint?: (pointId: string) => void }) {
  return (
    <DataTable
      rows={rows}
      testId="restore-tests"
      rowTestId="restore-test"
      rowKey={(t) => t.id}
      empty="No restore test has run yet."
      columns={[
        { key: "started", header: "Started", cell: (t) => time(t.startedAt) },
        {
          key: "point",
          header: "Recovery point",
          cell: (t) =>
            onPickPoint ? (
              <button type="button" className="link" onClick={() => onPickPoint(t.recoveryPointId)}>
                {t.pointTime ? time(t.pointTime) : t.recoveryPointId.slice(0, 8)}
              </button>
            ) : (
              time(t.pointTime)
            ),
        },
        { key: "trigger", header: "Trigger", cell: (t) => t.trigger },
        { key: "verdict", header: "Result", cell: (t) => <VerdictBadge state={t.state} /> },
        { key: "duration", header: "Duration", cell: (t) => formatDuration(t.durationMs) },
        { key: "size", header: "Files / bytes", cell: (t) => `${t.files} / ${formatBytes(t.bytes)}` },
        {
          key: "findings",
          header: "Findings",
          cell: (t) => {
            const findings = t.findings ?? [];
            const fs = t.fsChecks ?? [];
            if (findings.length === 0 && fs.length === 0) return <span className="muted">none</span>;
            return (
              <ul data-testid="restore-test-findings">
                {findings.map((f, i) => (
                  <li key={`f${i}`} className="field-error">
                    {f.path ? <code>{f.path}</code> : null}
                    {f.path ? ": " : null}
                    {f.problem}
                  </li>
                ))}
                {fs.map((c) => (
                  <li key={`${c.volume}:${c.tool}`} className={c.ok ? undefined : "field-error"}>
                    <code>{c.tool}</code> on {c.volume}: {c.ok ? "clean" : "errors"}
                  </li>
                ))}
              </ul>
            );
          },
        },
      ]}
    />
  );
}
