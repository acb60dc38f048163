"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ErrorBanner } from "~/components/form";
import { errorMessage } from "~/lib/errors";
import { formatAge, formatBytes } from "~/lib/format";
import { useTRPC } from "~/lib/trpc";

const rpoBadge = { ok: "ok", late: "warn", missed: "bad", none: "warn" } as const;
const rpoLabel = { ok: "OK", late: "late", missed: "missed", none: "no point yet" } as const;

/** The machines of a customer with how well each is protected right now (refreshes every 10 s). */
export function MachinesPanel({ customerId, canRevoke }: { customerId: string; canRevoke: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const machines = useQuery({ ...trpc.machines.protection.queryOptions({ customerId }), refetchInterval: 10_000 });
  const revoke = useMutation(
    trpc.machines.revoke.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.machines.protection.queryKey({ customerId }) }) }),
  );
  return (
    <>
      <h2>Machines</h2>
      <ErrorBanner message={errorMessage(machines.error ?? revoke.error)} />
      {machines.data?.length === 0 ? <p className="muted">No machines enrolled yet. Create an enrollment token and run the install command on the machine.</p> : null}
      {machines.data && machines.data.length > 0 ? (
        <table data-testid="machines">
          <thead>
            <tr>
              <th>Name</th>
              <th>Status</th>
              <th>Last recovery point</th>
              <th>Protected</th>
              <th>Stored</th>
              <th>Agent</th>
              <th>Last error</th>
              {canRevoke ? <th /> : null}
            </tr>
          </thead>
          <tbody>
            {machines.data.map((m) => (
              <tr key={m.id} data-testid={`machine-${m.name}`}>
                <td>
                  <a href={`/machines/${m.id}`}>{m.name}</a>
                  <div className="muted">{m.hostname ?? m.os ?? ""}</div>
                </td>
                <td>
                  {m.revoked ? <span className="badge bad">revoked</span> : m.online ? <span className="badge ok">online</span> : <span className="badge warn">offline</span>}
                </td>
                <td>
                  <span className={`badge ${rpoBadge[m.rpo]}`} data-testid="rpo-state">
                    {rpoLabel[m.rpo]}
                  </span>{" "}
                  <span className="muted">
                    {formatAge(m.lastPointAt)} · RPO {m.rpoSeconds} s
                  </span>
                </td>
                <td>{formatBytes(m.protectedBytes)}</td>
                <td>{formatBytes(m.storedBytes)}</td>
                <td>{m.agentVersion ?? "—"}</td>
                <td className={m.lastError ? "field-error" : "muted"}>{m.lastError ?? "—"}</td>
                {canRevoke ? (
                  <td>
                    {m.revoked ? null : (
                      <button
                        type="button"
                        className="danger"
                        disabled={revoke.isPending}
                        onClick={() => {
                          if (window.confirm(`Revoke ${m.name}? Its agent stops at once; recovery points stay. Re-enrolling restores it.`)) revoke.mutate({ machineId: m.id });
                        }}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
