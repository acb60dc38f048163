import type { ReactNode } from "react";

/**
 * An alert's `details` are condition-specific JSON (files, points, packs…).
 * Known shapes get links and lists; anything else is still shown, as text, so a
 * new detail never disappears from the page.
 */
type Item = Record<string, unknown>;

const labels: Record<string, string> = {
  files: "Affected files",
  affectedFiles: "Affected files",
  points: "Affected recovery points",
  recoveryPoints: "Affected recovery points",
  pointIds: "Affected recovery points",
  packs: "Packs",
  packIds: "Packs",
  chunkIds: "Chunks",
  findings: "Findings",
  customer: "Customer",
  machine: "Machine",
  machines: "Machines",
  recoveryPoint: "Recovery point",
  reason: "Reason",
  badChunks: "Bad chunks",
  problems: "Problems",
  moreFiles: "More files not listed",
  morePoints: "More points not listed",
  selfHeal: "Self-heal",
  restoreTestId: "Restore test",
  filesVerified: "Files verified",
  failures: "Failures",
};

const isPointKey = (key: string) => /points?(Ids)?$/i.test(key) && !key.startsWith("more");

function pointLink(item: unknown, machineId: string | null): ReactNode {
  const p = typeof item === "string" ? { id: item } : (item as Item);
  const id = typeof p.id === "string" ? p.id : typeof p.pointId === "string" ? p.pointId : null;
  const machine = typeof p.machineId === "string" ? p.machineId : machineId;
  const when = p.time ? new Date(String(p.time)).toLocaleString() : id?.slice(0, 8);
  const machineName = typeof p.machineName === "string" ? p.machineName : typeof p.machine === "string" ? p.machine : null;
  const name = machineName ? `${machineName}: ` : "";
  const files = Array.isArray(p.files) ? p.files.length : 0;
  if (!id) return <code>{JSON.stringify(item)}</code>;
  return machine ? (
    <a href={`/machines/${machine}?point=${id}`} data-testid="alert-point">
      {name}
      {when}
      {files ? ` (${files} file${files === 1 ? "" : "s"})` : ""}
    </a>
  ) : (
    <code>{id}</code>
  );
}

function itemText(item: unknown): ReactNode {
  if (typeof item === "string" || typeof item === "number") return <code>{item}</code>;
  const o = item as Item;
  if (typeof o?.path === "string") return (
    <>
      <code>{o.path}</code>
      {typeof o.problem === "string" ? `: ${o.problem}` : null}
    </>
  );
  if (typeof o?.problem === "string") return (
    <>
      {typeof o.packId === "string" ? <code>pack {o.packId.slice(0, 16)}</code> : null}
      {typeof o.reason === "string" ? ` (${o.reason})` : null}
      {typeof o.packId === "string" || typeof o.reason === "string" ? ": " : null}
      {o.problem}
    </>
  );
  return <code>{JSON.stringify(item)}</code>;
}

/** `{ id, name }` of a customer or machine becomes a link to its page. */
function entityLink(kind: "customer" | "machine", value: unknown): ReactNode {
  const o = value as Item;
  if (typeof o?.id !== "string") return null;
  return <a href={`/${kind === "customer" ? "customers" : "machines"}/${o.id}`}>{typeof o.name === "string" ? o.name : o.id.slice(0, 8)}</a>;
}

function Value({ name, value, machineId }: { name: string; value: unknown; machineId: string | null }) {
  if (name === "customer" || name === "machine") {
    const link = entityLink(name, value);
    if (link) return link;
  }
  if (name === "recoveryPoint" && value && typeof value === "object") return pointLink(value, machineId);
  if (name === "machines" && Array.isArray(value)) {
    return (
      <ul data-testid="alert-detail-machines">
        {value.map((m, i) => (
          <li key={i}>{entityLink("machine", m) ?? itemText(m)}</li>
        ))}
      </ul>
    );
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return <span className="muted">none</span>;
    const shown = value.slice(0, 100);
    return (
      <ul data-testid={`alert-detail-${name}`}>
        {shown.map((item, i) => (
          <li key={i}>{isPointKey(name) ? pointLink(item, machineId) : itemText(item)}</li>
        ))}
        {value.length > shown.length ? <li className="muted">… and {value.length - shown.length} more</li> : null}
      </ul>
    );
  }
  if (value !== null && typeof value === "object") return <code>{JSON.stringify(value)}</code>;
  return <span data-testid={`alert-detail-${name}`}>{String(value)}</span>;
}

export function AlertDetails({ details, machineId }: { details: Record<string, unknown>; machineId: string | null }) {
  // "moreFiles: 0" says nothing; a count of what was left out only matters when there is some.
  const entries = Object.entries(details ?? {}).filter(([k, v]) => v !== undefined && v !== null && v !== "" && !(k.startsWith("more") && v === 0));
  if (entries.length === 0) return <p className="muted">No further details.</p>;
  return (
    <table className="details" data-testid="alert-details">
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th>{labels[k] ?? k}</th>
            <td>
              <Value name={k} value={v} machineId={machineId} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
