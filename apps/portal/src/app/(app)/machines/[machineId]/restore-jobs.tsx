"use client";
import { useQuery } from "@tanstack/react-query";
import { ErrorBanner } from "~/components/form";
import { errorMessage } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";
import { RestoreProgress } from "./restore-progress";

export function RestoreJobs({ machineId }: { machineId: string }) {
  const trpc = useTRPC();
  const jobs = useQuery({
    ...trpc.restores.list.queryOptions({ machineId, limit: 20 }),
    refetchInterval: (q) => (q.state.data?.some((j) => j.state === "queued" || j.state === "running") ? 2000 : 15_000),
  });
  if (!jobs.data?.length && !jobs.error) return null;
  return (
    <>
      <h2>Restores</h2>
      <ErrorBanner message={errorMessage(jobs.error)} />
      <table data-testid="restore-jobs">
        <thead>
          <tr>
            <th>Requested</th>
            <th>What</th>
            <th>Where</th>
            <th>State</th>
          </tr>
        </thead>
        <tbody>
          {jobs.data?.map((j) => (
            <tr key={j.id}>
              <td>{new Date(j.createdAt).toLocaleString()}</td>
              <td>{j.paths.join(", ")}</td>
              <td>
                {j.destination ?? "original location"} <span className="muted">({j.conflict})</span>
              </td>
              <td>
                <RestoreProgress job={j} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
