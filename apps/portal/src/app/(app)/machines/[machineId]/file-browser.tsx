"use client";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorBanner, SubmitButton } from "~/components/form";
import { errorMessage } from "~/lib/errors";
import { downloadUrl, formatBytes } from "~/lib/format";
import { useTRPC } from "~/lib/trpc";
import { RestoreDialog } from "./restore-dialog";

type Entry = { name: string; path: string; type: string; size: number; mtime: string };
type Ctx = { pointId: string; canDownload: boolean; selected: Set<string>; toggle: (p: string) => void; showVersions: (p: string) => void };

function EntryRow({ entry, ctx }: { entry: Entry; ctx: Ctx }) {
  const [open, setOpen] = useState(false);
  const isDir = entry.type === "dir";
  return (
    <li data-testid="tree-entry" data-path={entry.path}>
      <input type="checkbox" aria-label={`Select ${entry.path}`} checked={ctx.selected.has(entry.path)} onChange={() => ctx.toggle(entry.path)} />{" "}
      {isDir ? (
        <button type="button" className="link" aria-expanded={open} onClick={() => setOpen(!open)}>
          {open ? "▾" : "▸"} {entry.name}/
        </button>
      ) : (
        <span>{entry.name}</span>
      )}{" "}
      <span className="muted">
        {isDir ? "" : formatBytes(entry.size)} {new Date(entry.mtime).toLocaleString()}
      </span>{" "}
      {ctx.canDownload && (isDir || entry.type === "file") ? (
        <a href={downloadUrl(ctx.pointId, entry.path)} data-testid="download" download>
          {isDir ? "download zip" : "download"}
        </a>
      ) : null}{" "}
      {entry.type === "file" ? (
        <button type="button" className="link" onClick={() => ctx.showVersions(entry.path)}>
          versions
        </button>
      ) : null}
      {isDir && open ? <Listing path={entry.path} ctx={ctx} /> : null}
    </li>
  );
}

/** One directory level, fetched only when its parent is expanded. */
function Listing({ path, ctx, root }: { path: string; ctx: Ctx; root?: boolean }) {
  const trpc = useTRPC();
  const list = useQuery(trpc.files.list.queryOptions({ pointId: ctx.pointId, path }));
  if (list.error) return <ErrorBanner message={errorMessage(list.error)} />;
  if (!list.data) return <p className="muted">Loading…</p>;
  if (list.data.entries.length === 0) return <p className="muted">(empty)</p>;
  return (
    <ul className={`tree${root ? " root" : ""}`}>
      {list.data.entries.map((e) => (
        <EntryRow key={e.path} entry={e} ctx={ctx} />
      ))}
    </ul>
  );
}

function Versions({ pointId, path, canDownload, onPickPoint, onClose }: { pointId: string; path: string; canDownload: boolean; onPickPoint: (id: string) => void; onClose: () => void }) {
  const trpc = useTRPC();
  const v = useQuery(trpc.files.versions.queryOptions({ pointId, path }));
  return (
    <div className="card" data-testid="versions">
      <div className="row">
        <strong>Versions of {path}</strong>
        <span style={{ flex: 1 }} />
        <button type="button" className="secondary" onClick={onClose}>
          Close
        </button>
      </div>
      <ErrorBanner message={errorMessage(v.error)} />
      {v.data ? (
        <table>
          <thead>
            <tr>
              <th>Point</th>
              <th>Size</th>
              <th>Modified</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {v.data.map((x) => (
              <tr key={x.pointId} data-testid="version-row">
                <td>
                  <button type="button" className="link" onClick={() => onPickPoint(x.pointId)}>
                    {new Date(x.time).toLocaleString()}
                  </button>{" "}
                  {x.changed ? <span className="badge ok">changed</span> : <span className="muted">same</span>}
                </td>
                <td>{formatBytes(x.entry.size)}</td>
                <td>{new Date(x.entry.mtime).toLocaleString()}</td>
                <td>{canDownload ? <a href={downloadUrl(x.pointId, path)}>download</a> : null}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

export function FileBrowser(props: { machineId: string; pointId: string; canDownload: boolean; canRestore: boolean; onPickPoint: (id: string) => void }) {
  const trpc = useTRPC();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [versionsOf, setVersionsOf] = useState<string | null>(null);
  const [query, setQuery] = useState("");
  const [submitted, setSubmitted] = useState("");
  const [restoring, setRestoring] = useState(false);
  const search = useQuery({ ...trpc.files.search.queryOptions({ pointId: props.pointId, query: submitted }), enabled: submitted.length > 0 });
  const ctx: Ctx = {
    pointId: props.pointId,
    canDownload: props.canDownload,
    selected,
    toggle: (p) =>
      setSelected((s) => {
        const next = new Set(s);
        if (next.has(p)) next.delete(p);
        else next.add(p);
        return next;
      }),
    showVersions: setVersionsOf,
  };
  return (
    <section className="card" data-testid="file-browser">
      <h2 style={{ marginTop: 0 }}>Files</h2>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          setSubmitted(query.trim());
        }}
      >
        <input aria-label="Search by name" placeholder="Search by name in this point" value={query} onChange={(e) => setQuery(e.target.value)} />
        <SubmitButton className="secondary">Search</SubmitButton>
        {submitted ? (
          <button type="button" className="secondary" onClick={() => (setSubmitted(""), setQuery(""))}>
            Clear
          </button>
        ) : null}
      </form>
      {submitted ? (
        <div data-testid="search-results">
          <ErrorBanner message={errorMessage(search.error)} />
          {search.data ? (
            <>
              <p className="muted">
                {search.data.results.length} match{search.data.results.length === 1 ? "" : "es"}
                {search.data.truncated ? " (first ones only: refine the search)" : ""}
              </p>
              <ul className="tree root">
                {search.data.results.map((e) => (
                  <EntryRow key={e.path} entry={{ ...e, name: e.path }} ctx={ctx} />
                ))}
              </ul>
            </>
          ) : (
            <p className="muted">Searching…</p>
          )}
        </div>
      ) : (
        <Listing path="" ctx={ctx} root />
      )}
      <div className="row" style={{ marginTop: ".75rem" }}>
        <span className="muted">{selected.size} selected</span>
        {props.canRestore ? (
          <button type="button" disabled={selected.size === 0} onClick={() => setRestoring(true)}>
            Restore to machine…
          </button>
        ) : (
          <span className="muted">Restoring to a machine needs a customer admin or your MSP; you can download files.</span>
        )}
      </div>
      {versionsOf ? <Versions pointId={props.pointId} path={versionsOf} canDownload={props.canDownload} onPickPoint={props.onPickPoint} onClose={() => setVersionsOf(null)} /> : null}
      {restoring ? <RestoreDialog machineId={props.machineId} pointId={props.pointId} paths={[...selected]} onClose={() => setRestoring(false)} /> : null}
    </section>
  );
}
