"use client";
import { useQuery } from "@tanstack/react-query";
import { ErrorBanner } from "~/components/form";
import { errorMessage } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";

const badge = { info: "", warn: "warn", error: "bad" } as const;

export function EventsPanel({ machineId }: { machineId: string }) {
  const trpc = useTRPC();
  const events = useQuery({ ...trpc.machines.events.queryOptions({ machineId, limit: 50 }), refetchInterval: 15_000 });
  return (
    <>
      <h2>Agent events</h2>
      <ErrorBanner message={errorMessage(events.error)} />
      {events.data?.length === 0 ? <p className="muted">Nothing reported yet.</p> : null}
      {events.data && events.data.length > 0 ? (
        <table data-testid="agent-events">
          <thead>
            <tr>
              <th>Time</th>
              <th>Level</th>
              <th>Kind</th>
              <th>Message</th>
            </tr>
          </thead>
          <tbody>
            {events.data.map((e) => (
              <tr key={e.id}>
                <td>{new Date(e.time).toLocaleString()}</td>
                <td>
                  <span className={`badge ${badge[e.level]}`}>{e.level}</span>
                </td>
                <td>{e.kind}</td>
                <td>{e.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
