"use client";
import { useQuery } from "@tanstack/react-query";
import { ErrorBanner } from "~/components/form";
import { errorMessage } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";

export function MachinesPanel({ customerId }: { customerId: string }) {
  const trpc = useTRPC();
  const machines = useQuery(trpc.machines.list.queryOptions({ customerId }));
  return (
    <>
      <h2>Machines</h2>
      <ErrorBanner message={errorMessage(machines.error)} />
      {machines.data?.length === 0 ? <p className="muted">No machines enrolled yet. Create an enrollment token and run the install command on the machine.</p> : null}
      {machines.data && machines.data.length > 0 ? (
        <table data-testid="machines">
          <thead>
            <tr>
              <th>Name</th>
              <th>OS</th>
              <th>Last seen</th>
              <th>Enrolled</th>
            </tr>
          </thead>
          <tbody>
            {machines.data.map((m) => (
              <tr key={m.id}>
                <td>{m.name}</td>
                <td>{m.os ?? "—"}</td>
                <td>{m.lastSeenAt ? new Date(m.lastSeenAt).toLocaleString() : "never"}</td>
                <td className="muted">{new Date(m.enrolledAt).toLocaleDateString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
