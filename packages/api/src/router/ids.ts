import { z } from "zod";

export const uuid = (what: string) => z.uuid({ error: `Not a valid ${what} id` });
export const mspId = uuid("MSP");
export const customerId = uuid("customer");
export const name = z.string().trim().min(1, "Name is required").max(120, "Name is at most 120 characters");
