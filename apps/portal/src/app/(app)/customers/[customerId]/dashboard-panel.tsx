"use client";
import { useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { VerdictBadge } from "~/components/alert-badges";
import { ErrorBanner } from "~/components/form";
import { errorMessage } from "~/lib/errors";
import { formatAge, formatBytes } from "~/lib/format";
import { useTRPC } from "~/lib/trpc";
import { allowed, roleFor } from "~/server/roles";

/**
 * Verification at a glance: how much of the customer's storage was read back
 * within the policy's period, damaged points, each machine's last verified
 * restore, and "verify now" (a full scrub, for MSP staff).
 */
function VerificationSummary({ customerId }: { customerId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const customer = useQuery(trpc.customers.get.queryOptions({ customerId }));
  const me = useQuery(trpc.me.get.queryOptions());
  const machines = useQuery({ ...trpc.machines.protection.queryOptions({ customerId }), refetchInterval: 30_000 });
  const live = (machines.data ?? []).filter((m) => !m.revoked).slice(0, 50);
  // Scrub coverage, bad chunks and pending requests are customer-wide; each machine adds its own restore tests.
  const summaries = useQueries({
    queries: live.map((m) => ({
      ...trpc.verification.summary.queryOptions({ machineId: m.id }),
      refetchInterval: (q: { state: { data?: { pendingRequests: unknown[] } } }) => (q.state.data?.pendingRequests.length ? 2000 : 15_000),
    })),
  });
  const damaged = useQuery({ ...trpc.verification.damagedPoints.queryOptions({ customerId }), refetchInterval: 15_000 });
  const verify = useMutation(trpc.verification.verifyNow.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.verification.pathKey() }) }));
  const mspId = customer.data?.mspId;
  const mspView = Boolean(mspId && me.data?.memberships.some((m) => m.kind === "msp" && m.mspId === mspId));
  const canVerify = mspView && allowed(roleFor(me.data?.memberships ?? [], { mspId: mspId ?? "", customerId }), "restores.request");
  const first = summaries.find((q) => q.data)?.data;
  const scrubbing = summaries.some((q) => q.data?.pendingRequests.some((r) => r.kind === "scrub"));
  const coverage = first && first.scrub.bytes > 0 ? Math.min(100, Math.round((first.scrub.scrubbedBytes / first.scrub.bytes) * 100)) : null;
  const problems = first ? first.scrub.corruptPacks + first.scrub.missingPacks : 0;
  return (
    <section className="card" data-testid="verification-summary">
      <div className="row" style={{ alignItems: "center" }}>
        <strong>Verification</strong>
        <span data-testid="scrub-coverage">
          {first ? (coverage === null ? "nothing stored yet" : `${coverage}% of ${formatBytes(first.scrub.bytes)} read back within ${first.scrub.periodDays} days`) : live.length === 0 ? "no machines yet" : "…"}
          {first?.scrub.lastScrubAt ? <span className="muted"> · last scrub {formatAge(first.scrub.lastScrubAt)}</span> : null}
        </span>
        {problems > 0 || (first?.openBadChunks ?? 0) > 0 ? (
          <span className="badge bad" data-testid="bad-chunks">
            {first?.openBadChunks ?? 0} bad chunk(s) awaiting re-upload
          </span>
        ) : first ? (
          <span className="badge ok">no corruption found</span>
        ) : null}
        {damaged.data && damaged.data.length > 0 ? (
          <span className="badge bad" data-testid="damaged-points-count">
            {damaged.data.length} damaged point{damaged.data.length === 1 ? "" : "s"}
          </span>
        ) : null}
        <span style={{ flex: 1 }} />
        {canVerify ? (
          <button type="button" className="secondary" disabled={verify.isPending || scrubbing} onClick={() => verify.mutate({ customerId })}>
            {scrubbing ? "Verifying…" : "Verify now"}
          </button>
        ) : null}
      </div>
      {verify.data ? (
        <p className="muted" data-testid="verify-requested">
          {verify.data.duplicate ? "A verification is already under way." : "Verification requested: every stored pack will be read back and checked."}
        </p>
      ) : null}
      <ErrorBanner message={errorMessage(machines.error ?? damaged.error ?? verify.error ?? summaries.find((q) => q.error)?.error)} />
      {live.length > 0 ? (
        <table data-testid="machine-verification">
          <thead>
            <tr>
              <th>Machine</th>
              <th>Last verified restore</th>
              <th>Latest restore test</th>
              <th>Damaged points</th>
            </tr>
          </thead>
          <tbody>
            {live.map((m, i) => {
              const s = summaries[i]?.data;
              return (
                <tr key={m.id}>
                  <td>
                    <a href={`/machines/${m.id}`}>{m.name}</a>
                  </td>
                  <td>{s ? s.lastVerifiedRestoreAt ? <>{formatAge(s.lastVerifiedRestoreAt)} <span className="badge ok">✓</span></> : <span className="muted">never</span> : "…"}</td>
                  <td>{s?.lastRestoreTest ? <VerdictBadge state={s.lastRestoreTest.state} /> : <span className="muted">—</span>}</td>
                  <td>{s ? (s.damagedPoints > 0 ? <span className="field-error">{s.damagedPoints}</span> : 0) : "…"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

/** Logical bytes protected against bytes stored: the dedup ratio is the product's promise, shown. */
export function DashboardPanel({ customerId }: { customerId: string }) {
  const trpc = useTRPC();
  const s = useQuery({ ...trpc.customers.storage.queryOptions({ customerId }), refetchInterval: 15_000 });
  const d = s.data;
  return (
    <>
      <ErrorBanner message={errorMessage(s.error)} />
      <div className="stats" data-testid="customer-dashboard">
        <div className="card stat">
          <div className="muted">Protected</div>
          <strong data-testid="stat-protected">{formatBytes(d?.protectedBytes)}</strong>
        </div>
        <div className="card stat">
          <div className="muted">Stored</div>
          <strong data-testid="stat-stored">{formatBytes(d?.storedBytes)}</strong>
        </div>
        <div className="card stat">
          <div className="muted">Dedup ratio</div>
          <strong data-testid="stat-dedup">{d?.dedupRatio ? `${d.dedupRatio.toFixed(2)}×` : "—"}</strong>
        </div>
        <div className="card stat">
          <div className="muted">Recovery points</div>
          <strong data-testid="stat-points">{d?.recoveryPoints ?? "—"}</strong>
        </div>
        <div className="card stat">
          <div className="muted">Machines at risk</div>
          <strong data-testid="stat-at-risk" className={d && d.machinesAtRisk > 0 ? "field-error" : undefined}>
            {d ? `${d.machinesAtRisk} of ${d.machines}` : "—"}
          </strong>
        </div>
      </div>
      <VerificationSummary customerId={customerId} />
    </>
  );
}
