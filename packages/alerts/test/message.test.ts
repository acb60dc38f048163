import { describe, expect, it } from "vitest";
import { detailLines, renderSms } from "../src/message";
import type { AlertMessage } from "../src";

describe("message wording", () => {
  it("renders verification findings by name, cuts long lists with a count", () => {
    const lines = detailLines(
      {
        customer: { id: "c1", name: "A1 Dental" },
        machines: [{ id: "m1", name: "a1-srv" }],
        files: Array.from({ length: 25 }, (_, i) => `/srv/f${i}`),
        recoveryPoints: [{ id: "p1", machine: "a1-srv", machineId: "m1", time: "2026-11-27T10:00:00.000Z", files: ["/srv/f1", "/srv/f2"] }],
        packCount: 3,
        nested: { a: { b: 1 } },
      },
      20,
    );
    expect(lines).toEqual([
      "customer: A1 Dental",
      "machines (1): a1-srv",
      `files (25): ${Array.from({ length: 20 }, (_, i) => `/srv/f${i}`).join(", ")} … and 5 more`,
      "recovery Points (1): a1-srv @ 2026-11-27T10:00:00.000Z (2 files)",
      "pack Count: 3",
      'nested: {"a":{"b":1}}',
    ]);
  });

  it("keeps SMS short and always ends with the link", () => {
    const now = new Date();
    const m = {
      event: "opened",
      alert: { id: "x", mspId: "m", customerId: null, machineId: null, condition: "corruption", severity: "critical", state: "open", dedupeKey: "k", title: "T".repeat(1000), details: {}, occurrences: 1, openedAt: now, lastSeenAt: now, acknowledgedAt: null, acknowledgedBy: null, resolvedAt: null, resolvedBy: null, createdAt: now, updatedAt: now },
      customer: null,
      machine: null,
      links: { alert: "https://p.test/msp/m/alerts?alert=x", machine: null, customer: null },
    } satisfies AlertMessage;
    const sms = renderSms(m);
    expect(sms.length).toBeLessThanOrEqual(480);
    expect(sms.endsWith("https://p.test/msp/m/alerts?alert=x")).toBe(true);
  });
});
