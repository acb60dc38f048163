/**
 * The standalone node:http host of the agent API believes only the socket's peer: a client that
 * writes X-Forwarded-For cannot pick a fresh failure bucket per request and so cannot flood
 * forged credentials past the per-address limit.
 */
import { randomBytes } from "node:crypto";
import { API_PREFIX, routes } from "@tidemark/agent-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveAgentApi } from "../src/http/node-server";
import { createWorld, enroll, type World } from "./fixtures";

let w: World;
let server: Awaited<ReturnType<typeof serveAgentApi>>;
beforeAll(async () => {
  w = await createWorld({ limiter: { capacity: 3, refillPerSecond: 0.01 } });
  server = await serveAgentApi(w.svc);
}, 60_000);
afterAll(async () => {
  await server?.close();
  await w?.stop();
});

describe("standalone agent API host", () => {
  it("rate-limits forged credentials by the socket's address whatever X-Forwarded-For claims", async () => {
    const m = await enroll(w, w.a1, "xff-victim");
    const forged = `tmm_${m.machineId}.${randomBytes(32).toString("base64url")}`;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${server.url}${API_PREFIX}${routes.policy.path}`, {
        method: routes.policy.method,
        // A different claimed address on every request: each would be a fresh bucket if believed.
        headers: { authorization: `Bearer ${forged}`, "x-forwarded-for": `198.51.100.${i + 1}`, "x-real-ip": `203.0.113.${i + 1}` },
      });
      statuses.push(r.status);
      await r.arrayBuffer();
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
  }, 60_000);
});
