/**
 * What every channel says about one alert event. One source of wording so an
 * email, an SMS and a Slack post about the same alert agree.
 */
import { type DbOrTx, schema } from "@tidemark/db";
import type { AlertCondition } from "@tidemark/db/schema";
import { escapeHtml } from "@tidemark/notify";
import { eq } from "drizzle-orm";
import type { Alert } from "./raise";

export type AlertEvent = "opened" | "escalated" | "resolved" | "test";

export type AlertMessage = {
  event: AlertEvent;
  alert: Alert;
  customer: { id: string; name: string } | null;
  machine: { id: string; name: string } | null;
  links: { alert: string; machine: string | null; customer: string | null };
};

export const conditionLabels: Record<AlertCondition, string> = {
  corruption: "Corruption found",
  restore_test_failed: "Restore test failed",
  point_damaged: "Recovery point damaged",
  agent_offline: "Agent offline",
  rpo_missed: "RPO missed",
  capture_error: "Capture errors",
  storage_quota: "Storage above quota",
};

/**
 * Portal pages the messages link to. The alert centre is MSP-level (customer
 * admins see their own alerts from their customer page).
 */
export function portalLinks(publicUrl: string, alert: Pick<Alert, "id" | "mspId" | "customerId" | "machineId">) {
  const base = publicUrl.replace(/\/+$/, "");
  return {
    alert: `${base}/msp/${alert.mspId}/alerts?alert=${alert.id}`,
    machine: alert.machineId ? `${base}/machines/${alert.machineId}` : null,
    customer: alert.customerId ? `${base}/customers/${alert.customerId}` : null,
  };
}

export async function loadAlertMessage(db: DbOrTx, alertId: string, event: AlertEvent, publicUrl: string): Promise<AlertMessage | null> {
  const [row] = await db
    .select({ alert: schema.alerts, customerName: schema.customers.name, machineName: schema.machines.name })
    .from(schema.alerts)
    .leftJoin(schema.customers, eq(schema.customers.id, schema.alerts.customerId))
    .leftJoin(schema.machines, eq(schema.machines.id, schema.alerts.machineId))
    .where(eq(schema.alerts.id, alertId));
  if (!row) return null;
  const { alert } = row;
  return {
    event,
    alert,
    customer: alert.customerId && row.customerName !== null ? { id: alert.customerId, name: row.customerName } : null,
    machine: alert.machineId && row.machineName !== null ? { id: alert.machineId, name: row.machineName } : null,
    links: portalLinks(publicUrl, alert),
  };
}

/** A sample alert for "send test": real names of the channel's MSP/customer, nothing stored. */
export function testMessage(publicUrl: string, c: { mspId: string; customer: { id: string; name: string } | null }): AlertMessage {
  const now = new Date();
  const alert: Alert = {
    id: "00000000-0000-0000-0000-000000000000",
    mspId: c.mspId,
    customerId: c.customer?.id ?? null,
    machineId: null,
    condition: "agent_offline",
    severity: "info",
    state: "open",
    dedupeKey: "test",
    title: "Test message from Tidemark",
    details: { note: "This channel works. No action is needed." },
    occurrences: 1,
    openedAt: now,
    lastSeenAt: now,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedBy: null,
    createdAt: now,
    updatedAt: now,
  };
  return { event: "test", alert, customer: c.customer, machine: null, links: { ...portalLinks(publicUrl, alert), alert: `${publicUrl.replace(/\/+$/, "")}/msp/${c.mspId}/alerts` } };
}

const where = (m: AlertMessage) => [m.customer?.name, m.machine?.name].filter(Boolean).join(" / ");

export function headline(m: AlertMessage): string {
  const state = m.event === "resolved" ? "RESOLVED" : m.event === "test" ? "TEST" : m.event === "escalated" ? `ESCALATED: ${m.alert.severity.toUpperCase()}` : m.alert.severity.toUpperCase();
  const place = where(m);
  return `[${state}] ${m.alert.title}${place ? ` — ${place}` : ""}`;
}

/** Details as readable lines; long lists (files, points) are cut with a count so an email stays an email. */
export function detailLines(details: Record<string, unknown>, maxItems = 20): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(details)) {
    const label = key.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/_/g, " ");
    if (Array.isArray(value)) {
      const items = value.slice(0, maxItems).map(short);
      const more = value.length > maxItems ? ` … and ${value.length - maxItems} more` : "";
      lines.push(`${label} (${value.length}): ${items.join(", ")}${more}`);
    } else {
      lines.push(`${label}: ${short(value)}`);
    }
  }
  return lines;
}

function short(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v instanceof Date) return v.toISOString();
  // Findings name things as { id, name } or points as { machine, time }: show what a person reads.
  const o = v as Record<string, unknown>;
  if (typeof o.machine === "string" && typeof o.time === "string") return `${o.machine} @ ${o.time}${Array.isArray(o.files) ? ` (${o.files.length} file${o.files.length === 1 ? "" : "s"})` : ""}`;
  if (typeof o.name === "string") return o.name;
  if (typeof o.path === "string") return o.path;
  const s = JSON.stringify(v);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

export function renderText(m: AlertMessage): string {
  const a = m.alert;
  const lines = [
    headline(m),
    "",
    m.event === "resolved" ? `Resolved ${a.resolvedBy ? "by a technician" : "automatically: the condition cleared"} at ${(a.resolvedAt ?? new Date()).toISOString()}.` : m.event === "escalated" ? `${conditionLabels[a.condition]}: escalated to ${a.severity}.` : `${conditionLabels[a.condition]} (${a.severity}).`,
    m.customer ? `Customer: ${m.customer.name}` : null,
    m.machine ? `Machine: ${m.machine.name}` : null,
    m.event !== "test" ? `Opened: ${a.openedAt.toISOString()} · seen ${a.occurrences} time${a.occurrences === 1 ? "" : "s"}, last ${a.lastSeenAt.toISOString()}` : null,
    "",
    ...detailLines(a.details),
    "",
    `Alert centre: ${m.links.alert}`,
    m.links.machine ? `Machine: ${m.links.machine}` : null,
  ];
  return lines.filter((l) => l !== null).join("\n");
}

export function renderEmail(m: AlertMessage): { subject: string; text: string; html: string } {
  const a = m.alert;
  const color = m.event === "resolved" ? "#15803d" : a.severity === "critical" ? "#b91c1c" : a.severity === "warning" ? "#b45309" : "#1d4ed8";
  const row = (k: string, v: string) => `<tr><td style="padding:2px 12px 2px 0;color:#555">${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`;
  const html = [
    `<div style="font-family:system-ui,sans-serif;max-width:640px">`,
    `<p style="margin:0 0 8px;color:${color};font-weight:600">${escapeHtml(m.event === "resolved" ? "Resolved" : m.event === "test" ? "Test" : m.event === "escalated" ? `Escalated to ${a.severity}` : a.severity.toUpperCase())}</p>`,
    `<h2 style="margin:0 0 12px">${escapeHtml(a.title)}</h2>`,
    `<table style="border-collapse:collapse;margin-bottom:12px">`,
    row("Condition", conditionLabels[a.condition]),
    m.customer ? row("Customer", m.customer.name) : "",
    m.machine ? row("Machine", m.machine.name) : "",
    m.event !== "test" ? row("Opened", a.openedAt.toISOString()) : "",
    m.event === "resolved" && a.resolvedAt ? row("Resolved", `${a.resolvedAt.toISOString()}${a.resolvedBy ? "" : " (automatically)"}`) : "",
    `</table>`,
    `<ul>${detailLines(a.details).map((l) => `<li>${escapeHtml(l)}</li>`).join("")}</ul>`,
    `<p><a href="${escapeHtml(m.links.alert)}">Open the alert centre</a>${m.links.machine ? ` · <a href="${escapeHtml(m.links.machine)}">Open the machine</a>` : ""}</p>`,
    `</div>`,
  ].join("");
  return { subject: headline(m).slice(0, 300), text: renderText(m), html };
}

/** One SMS segment set: headline plus the link; Twilio splits above 160 characters, so keep it short. */
export function renderSms(m: AlertMessage): string {
  const body = `Tidemark ${headline(m)} ${m.links.alert}`;
  return body.length <= 320 ? body : `${body.slice(0, 300)}… ${m.links.alert}`.slice(0, 480);
}

/** The webhook JSON. `text` is what Slack and Teams incoming webhooks display (plain URL: both link it); the rest is for programs. */
export function webhookPayload(m: AlertMessage, deliveryId: string) {
  const a = m.alert;
  return {
    type: `alert.${m.event}`,
    deliveryId,
    sentAt: new Date().toISOString(),
    text: `${headline(m)}\n${detailLines(a.details, 5).join("\n")}\nOpen in Tidemark: ${m.links.alert}`,
    alert: {
      id: m.event === "test" ? null : a.id,
      mspId: a.mspId,
      condition: a.condition,
      severity: a.severity,
      state: a.state,
      title: a.title,
      details: a.details,
      occurrences: a.occurrences,
      openedAt: a.openedAt.toISOString(),
      lastSeenAt: a.lastSeenAt.toISOString(),
      resolvedAt: a.resolvedAt?.toISOString() ?? null,
      resolvedAutomatically: a.resolvedAt ? a.resolvedBy === null : null,
      customer: m.customer,
      machine: m.machine,
      links: m.links,
    },
  };
}
