"use client";
import { useState } from "react";
import { EventsPanel } from "./events-panel";
import { FileBrowser } from "./file-browser";
import { PointDetails } from "./point-details";
import { RestoreJobs } from "./restore-jobs";
import { Timeline } from "./timeline";

export function MachineView(props: { machineId: string; initialPoint?: string | null; canBrowse: boolean; canDownload: boolean; canRestore: boolean }) {
  const [pointId, setPointId] = useState<string | null>(props.initialPoint ?? null);
  return (
    <>
      <Timeline machineId={props.machineId} selected={pointId} onSelect={setPointId} />
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
