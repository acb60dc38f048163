"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { VerdictBadge } from "~/components/alert-badges";
import { ErrorBanner } from "~/components/form";
import { RestoreTestsTable } from "~/components/restore-tests-table";
import { errorMessage } from "~/lib/errors";
import { formatAge, formatBytes } from "~/lib/format";
import { useTRPC } from "~/lib/trpc";

/**
 * "Last verified restore: 3 h ago ✓": the proof this machine is restorable,
 * the restore test history, and "run restore test now" (of the picked point,
 * else the latest). Polls quickly while a request or test is under way.
 */
export function VerificationPanel({ machineId, canRun, selectedPoint, onPickPoint }: { machineId: string; canRun: boolean; selectedPoint: string | null; onPickPoint: (id: string) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const summary = useQuery({
    ...trpc.verification.summary.queryOptions({ machineId }),
    refetchInterval: (q) => (q.state.data?.pendingRequests.length || q.state.data?.lastRestoreTest?.state === "running" ? 2000 : 15_000),
  });
  const busy = Boolean(summary.data?.pendingRequests.some((r) => r.kind === "restore_test") || summary.data?.lastRestoreTest?.state === "running");
  const tests = useQuery({ ...trpc.verification.restoreTests.queryOptions({ machineId, limit: 20 }), refetchInterval: busy ? 2000 : 15_000 });
  const run = useMutation(
    trpc.verification.runRestoreTest.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.verification.pathKey() }),
    }),
  );
  const s = summary.data;
  const last = s?.lastRestoreTest ?? null;
  // A test that starts or finishes changes the history and the point details (which poll slowly): refresh them now.
  const lastKey = last ? `${last.id}:${last.state}` : null;
  useEffect(() => {
    if (lastKey) void queryClient.invalidateQueries({ queryKey: trpc.verification.restoreTests.pathKey() });
  }, [lastKey, queryClient, trpc]);
  const coverage = s && s.scrub.bytes > 0 ? Math.min(100, Math.round((s.scrub.scrubbedBytes / s.scrub.bytes) * 100)) : null;
  return (
    <section className="card" data-testid="verification">
      <div className="row" style={{ alignItems: "center" }}>
        <strong>Last verified restore:</strong>
        <span data-testid="last-verified-restore">
          {s ? (
            s.lastVerifiedRestoreAt ? (
              <>
                {formatAge(s.lastVerifiedRestoreAt)} <span className="badge ok">✓</span>
              </>
            ) : (
              <span className="muted">never</span>
            )
          ) : (
            "…"
          )}
        </span>
        {last && last.state !== "passed" ? (
          <span data-testid="latest-restore-test">
            latest test <VerdictBadge state={last.state} /> <span className="muted">{formatAge(last.finishedAt ?? last.startedAt)}</span>
          </span>
        ) : null}
        {s && s.damagedPoints > 0 ? (
          <span className="badge bad" data-testid="damaged-count">
            {s.damagedPoints} damaged point{s.damagedPoints === 1 ? "" : "s"}
          </span>
        ) : null}
        <span style={{ flex: 1 }} />
        {canRun ? (
          <button type="button" className="secondary" disabled={run.isPending || busy} onClick={() => run.mutate({ machineId, ...(selectedPoint ? { pointId: selectedPoint } : {}) })}>
            {busy ? "Restore test running…" : selectedPoint ? "Run restore test of this point now" : "Run restore test now"}
          </button>
        ) : null}
      </div>
      {s ? (
        <p className="muted" data-testid="scrub-coverage">
          Storage verification (whole customer): {coverage === null ? "nothing stored yet" : `${coverage}% of ${formatBytes(s.scrub.bytes)} read back within ${s.scrub.periodDays} days`}
          {s.scrub.lastScrubAt ? `, last scrub ${formatAge(s.scrub.lastScrubAt)}` : ""}
          {s.openBadChunks > 0 ? `; ${s.openBadChunks} bad chunk(s) awaiting re-upload` : ""}.
        </p>
      ) : null}
      <ErrorBanner message={errorMessage(summary.error ?? tests.error ?? run.error)} />
      <details open={Boolean(last && last.state === "failed")}>
        <summary>Restore test history ({tests.data?.length ?? 0})</summary>
        <RestoreTestsTable rows={tests.data} onPickPoint={onPickPoint} />
      </details>
    </section>
  );
}
