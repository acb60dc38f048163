import { z } from "zod";

export const uuid = (what: string) => z.uuid({ error: `Not a valid ${what} id` });
export const mspId = uuid("MSP");
export const customerId = uuid("customer");
export const machineId = uuid("machine");
export const pointId = uuid("recovery point");
export const name = z.string().trim().min(1, "Name is required").max(120, "Name is at most 120 characters");
/** Slash-separated from a point's root; "" is the root. Traversal components are refused when resolved. */
export const pointPath = z.string().max(4096, "Path is at most 4096 characters").refine((p) => !p.split("/").includes(".."), "Path must not contain ..");
