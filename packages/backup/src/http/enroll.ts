/**
 * The enrol route on its own entry (`@tidemark/backup/http/enroll`): it is the
 * only route that needs the engine (repository init on a customer's first
 * enrolment), so hosts that cannot bundle the engine still serve the rest.
 */
import { routes } from "@tidemark/agent-protocol";
import { clientIp } from "@tidemark/db";
import { enrollAgent } from "../enroll";
import { tooManyRequests } from "../errors";
import type { AgentServices } from "../services";
import { type AgentHandler, body, guarded, json } from "./common";

export function createEnrollRoute(svc: AgentServices): AgentHandler {
  return guarded(svc, async (req) => {
    const ip = clientIp(req.headers);
    const wait = svc.enrollLimiter.take(`ip:${ip ?? "unknown"}`);
    if (wait !== null) throw tooManyRequests(wait);
    const input = await body(req, routes.enroll.request);
    return json(await enrollAgent(svc, input, { ip, userAgent: req.headers.get("user-agent") }), 201);
  });
}
