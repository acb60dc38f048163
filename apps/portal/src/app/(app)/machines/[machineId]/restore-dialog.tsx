"use client";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorBanner, Field, SelectField, SubmitButton } from "~/components/form";
import { errorMessage, fieldErrors } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";
import { RestoreProgress } from "./restore-progress";

const running = (state: string | undefined) => state === "queued" || state === "running";

export function RestoreDialog({ machineId, pointId, paths, onClose }: { machineId: string; pointId: string; paths: string[]; onClose: () => void }) {
  const trpc = useTRPC();
  const [destination, setDestination] = useState<"original" | "folder">("folder");
  const [targetPath, setTargetPath] = useState("");
  const [conflict, setConflict] = useState<"overwrite" | "skip" | "keepBoth">("keepBoth");
  const [fields, setFields] = useState<Record<string, string>>({});
  const [jobId, setJobId] = useState<string | null>(null);
  const create = useMutation(trpc.restores.create.mutationOptions());
  const cancel = useMutation(trpc.restores.cancel.mutationOptions());
  // Live progress: poll the machine's jobs while this one is not finished.
  const jobs = useQuery({
    ...trpc.restores.list.queryOptions({ machineId, limit: 20 }),
    enabled: jobId !== null,
    refetchInterval: (q) => (running(q.state.data?.find((j) => j.id === jobId)?.state) || !q.state.data ? 1500 : false),
  });
  const job = jobs.data?.find((j) => j.id === jobId);
  return (
    <div className="dialog-backdrop" role="dialog" aria-modal="true" aria-labelledby="restore-title">
      <div className="dialog" data-testid="restore-dialog">
        <h2 id="restore-title" style={{ marginTop: 0 }}>
          Restore to machine
        </h2>
        <p className="muted">
          {paths.length} item{paths.length === 1 ? "" : "s"}: {paths.slice(0, 5).join(", ")}
          {paths.length > 5 ? "…" : ""}
        </p>
        {jobId ? (
          <>
            {job ? <RestoreProgress job={job} /> : <p className="muted">Requested…</p>}
            <ErrorBanner message={errorMessage(cancel.error)} />
            <div className="actions" style={{ marginTop: "1rem" }}>
              {running(job?.state) ? (
                <button type="button" className="danger" disabled={cancel.isPending} onClick={() => cancel.mutate({ jobId })}>
                  Cancel restore
                </button>
              ) : null}
              <button type="button" className="secondary" onClick={onClose}>
                Close
              </button>
            </div>
          </>
        ) : (
          <form
            noValidate
            onSubmit={async (e) => {
              e.preventDefault();
              setFields({});
              try {
                const created = await create.mutateAsync({ machineId, pointId, paths, destination, targetPath: destination === "folder" ? targetPath : undefined, conflict });
                setJobId(created.id);
              } catch (err) {
                setFields(fieldErrors(err));
              }
            }}
          >
            <fieldset className="field">
              <legend>Destination</legend>
              <label className="inline">
                <input type="radio" name="destination" checked={destination === "original"} onChange={() => setDestination("original")} /> Original location
              </label>
              <label className="inline">
                <input type="radio" name="destination" checked={destination === "folder"} onChange={() => setDestination("folder")} /> Another folder
              </label>
            </fieldset>
            {destination === "folder" ? (
              <Field label="Folder on the machine" name="targetPath" placeholder="/srv/restore or D:\Restore" value={targetPath} onChange={(e) => setTargetPath(e.target.value)} error={fields.targetPath} />
            ) : null}
            <SelectField
              label="If a file already exists"
              id="conflict"
              options={[
                { value: "keepBoth", label: "Keep both (restored copy gets a new name)" },
                { value: "skip", label: "Skip it" },
                { value: "overwrite", label: "Overwrite it" },
              ]}
              value={conflict}
              onChange={(e) => setConflict(e.target.value as typeof conflict)}
            />
            <ErrorBanner message={errorMessage(create.error)} />
            <div className="actions">
              <SubmitButton pending={create.isPending}>Start restore</SubmitButton>
              <button type="button" className="secondary" onClick={onClose}>
                Cancel
              </button>
            </div>
          </form>
        )}
      </div>
    </div>
  );
}
