"use client";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { ErrorBanner } from "~/components/form";
import { errorMessage } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";

/** Zoom levels from a year down to a minute: the window the timeline shows. */
const zooms = [
  { key: "year", label: "Year", ms: 365 * 86400_000 },
  { key: "month", label: "Month", ms: 31 * 86400_000 },
  { key: "day", label: "Day", ms: 86400_000 },
  { key: "hour", label: "Hour", ms: 3600_000 },
  { key: "minute", label: "Minute", ms: 60_000 },
] as const;
type Zoom = (typeof zooms)[number]["key"];

function label(d: Date, zoom: Zoom): string {
  if (zoom === "year" || zoom === "month") return d.toLocaleDateString();
  if (zoom === "day") return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleTimeString();
}

export function Timeline({
  machineId,
  selected,
  onSelect,
  damaged,
}: {
  machineId: string;
  selected: string | null;
  onSelect: (id: string) => void;
  /** Points the verification found damaged (a chunk they need is bad or missing): drawn in red. */
  damaged?: ReadonlySet<string>;
}) {
  const trpc = useTRPC();
  const [zoom, setZoom] = useState<Zoom>("day");
  // null: the window ends now and follows new points live.
  const [end, setEnd] = useState<number | null>(null);
  const span = zooms.find((z) => z.key === zoom)!.ms;
  const [now, setNow] = useState(() => Date.now());
  const to = end ?? now;
  const from = to - span;
  const points = useQuery({
    ...trpc.points.list.queryOptions({ machineId, from: new Date(from), to: new Date(to + 60_000) }),
    refetchInterval: end === null ? 3000 : false,
  });
  // The live window's right edge follows the clock.
  useEffect(() => {
    if (end !== null) return;
    const t = setInterval(() => setNow(Date.now()), 3000);
    return () => clearInterval(t);
  }, [end]);
  const list = points.data ?? [];
  const ticks = useMemo(
    () => list.map((p) => ({ ...p, x: Math.min(100, Math.max(0, ((new Date(p.time).getTime() - from) / span) * 100)) })),
    [list, from, span],
  );
  const recenter = (t: number) => setEnd(Math.min(Date.now(), t));
  return (
    <section className="card">
      <div className="row">
        <strong>Recovery points</strong>
        <span className="muted" data-testid="point-count">
          {list.length} in view
        </span>
        <span style={{ flex: 1 }} />
        {zooms.map((z) => (
          <button key={z.key} type="button" className={z.key === zoom ? undefined : "secondary"} onClick={() => setZoom(z.key)} aria-pressed={z.key === zoom}>
            {z.label}
          </button>
        ))}
        <button type="button" className="secondary" onClick={() => recenter(to - span / 2)} aria-label="Earlier">
          ←
        </button>
        <button type="button" className="secondary" onClick={() => (to + span / 2 >= Date.now() ? setEnd(null) : recenter(to + span / 2))} aria-label="Later">
          →
        </button>
        <button type="button" className="secondary" onClick={() => setEnd(null)} disabled={end === null}>
          Now
        </button>
      </div>
      <ErrorBanner message={errorMessage(points.error)} />
      <div className="timeline" data-testid="timeline">
        {ticks.map((p) => (
          <button
            key={p.id}
            type="button"
            className={`tick${p.id === selected ? " selected" : ""}${p.errorCount > 0 ? " errors" : ""}`}
            style={{ left: `${p.x}%`, ...(damaged?.has(p.id) ? { background: "var(--danger)" } : {}) }}
            title={`${new Date(p.time).toLocaleString()} · ${p.consistency}${p.errorCount ? ` · ${p.errorCount} unreadable` : ""}${damaged?.has(p.id) ? " · DAMAGED" : ""}`}
            aria-label={`Recovery point ${new Date(p.time).toLocaleString()}${damaged?.has(p.id) ? " (damaged)" : ""}`}
            data-testid="timeline-point"
            data-damaged={damaged?.has(p.id) ? "true" : undefined}
            onClick={() => onSelect(p.id)}
          />
        ))}
        <span className="label" style={{ left: "4%" }}>
          {label(new Date(from), zoom)}
        </span>
        <span className="label" style={{ left: "96%" }}>
          {end === null ? "now" : label(new Date(to), zoom)}
        </span>
      </div>
      {list.length > 0 ? (
        <div className="row">
          <label className="inline" htmlFor="point-pick">
            Point
          </label>
          <select id="point-pick" data-testid="point-select" value={selected ?? ""} onChange={(e) => e.target.value && onSelect(e.target.value)}>
            <option value="">Pick a recovery point…</option>
            {list.map((p) => (
              <option key={p.id} value={p.id}>
                {new Date(p.time).toLocaleString()} ({p.consistency}
                {p.errorCount ? `, ${p.errorCount} unreadable` : ""}
                {damaged?.has(p.id) ? ", DAMAGED" : ""})
              </option>
            ))}
          </select>
        </div>
      ) : (
        <p className="muted">No recovery points in this window{end === null ? " yet" : ""}.</p>
      )}
    </section>
  );
}
