"use client";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useTRPC } from "~/lib/trpc";
import { EventsPanel } from "./events-panel";
import { FileBrowser } from "./file-browser";
import { PointDetails } from "./point-details";
import { RestoreJobs } from "./restore-jobs";
import { Timeline } from "./timeline";
import { VerificationPanel } from "./verification-panel";

export function MachineView(props: {
  machineId: string;
  customerId: string;
  initialPoint?: string | null;
  canBrowse: boolean;
  canDownload: boolean;
  canRestore: boolean;
  canVerify: boolean;
}) {
  const trpc = useTRPC();
  const [pointId, setPointId] = useState<string | null>(props.initialPoint ?? null);
  const damagedPoints = useQuery({ ...trpc.verification.damagedPoints.queryOptions({ customerId: props.customerId, machineId: props.machineId }), refetchInterval: 30_000 });
  const damaged = useMemo(() => new Set(damagedPoints.data?.map((p) => p.id)), [damagedPoints.data]);
  return (
    <>
      <VerificationPanel machineId={props.machineId} canRun={props.canVerify} selectedPoint={pointId} onPickPoint={setPointId} />
      <Timeline machineId={props.machineId} selected={pointId} onSelect={setPointId} damaged={damaged} />
      {damagedPoints.data && damagedPoints.data.length > 0 ? (
        // Damaged points may lie outside the timeline's window: list them so none is missed.
        <section className="card" data-testid="damaged-points">
          <strong className="field-error">Damaged recovery points</strong>
          <ul>
            {damagedPoints.data.map((p) => (
              <li key={p.id}>
                <button type="button" className="link" onClick={() => setPointId(p.id)}>
                  {new Date(p.time).toLocaleString()}
                </button>{" "}
                <span className="muted">
                  {p.damage?.files.length ?? 0} affected file{p.damage?.files.length === 1 ? "" : "s"}
                </span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      {pointId ? (
        <div className="split">
          <PointDetails pointId={pointId} canBrowse={props.canBrowse} />
          {props.canBrowse ? <FileBrowser key={pointId} machineId={props.machineId} pointId={pointId} canDownload={props.canDownload} canRestore={props.canRestore} onPickPoint={setPointId} /> : null}
        </div>
      ) : (
        <p className="muted">Pick a recovery point on the timeline to see its details and files.</p>
      )}
      <RestoreJobs machineId={props.machineId} />
      <EventsPanel machineId={props.machineId} />
    </>
  );
}
