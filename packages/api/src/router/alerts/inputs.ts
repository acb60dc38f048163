import { alertChannelKinds, alertConditions, alertSeverities, alertStates } from "@tidemark/db/schema";
import { channelName, targetsSchema, webhookSecret } from "@tidemark/alerts";
import { z } from "zod";
import { customerId, machineId, mspId, uuid } from "../ids";

export const alertId = uuid("alert");
export const channelId = uuid("alert channel");
export const severity = z.enum(alertSeverities, { error: "Severity is critical, warning or info" });
export const kind = z.enum(alertChannelKinds, { error: "Kind is email, sms or webhook" });
export const pageSize = z.number().int().min(1).max(200).default(50);
/** Offset-based: alert rows change order as they are re-seen, so an offset is as stable as a key cursor here. */
export const cursor = z.number().int().min(0).max(1_000_000).default(0);

/** MSP staff pass { mspId } (optionally narrowing with customerId/machineId); customer members pass { customerId }. */
export const listAlertsInput = z
  .object({
    mspId: mspId.optional(),
    customerId: customerId.optional(),
    machineId: machineId.optional(),
    severity: z.array(severity).max(3).optional(),
    state: z.array(z.enum(alertStates, { error: "State is open, acknowledged or resolved" })).max(3).optional(),
    condition: z.array(z.enum(alertConditions, { error: "Unknown condition" })).max(alertConditions.length).optional(),
    cursor,
    limit: pageSize,
  })
  .refine((v) => v.mspId || v.customerId || v.machineId, { error: "Give mspId or customerId", path: ["mspId"] });

export const tenantInput = z
  .object({ mspId: mspId.optional(), customerId: customerId.optional() })
  .refine((v) => v.mspId || v.customerId, { error: "Give mspId or customerId", path: ["mspId"] });

export const createChannelInput = z
  .object({
    mspId,
    /** Absent/null: an MSP default for every customer; set: that customer's override for this kind. */
    customerId: customerId.nullish(),
    kind,
    name: channelName,
    targets: z.array(z.string().max(2000)).max(20, "At most 20 targets"),
    minSeverity: severity.default("warning"),
    enabled: z.boolean().default(true),
    /** Webhooks only; absent → one is generated and returned once. */
    secret: webhookSecret.optional(),
  })
  .superRefine((v, ctx) => {
    const r = targetsSchema(v.kind).safeParse(v.targets);
    if (!r.success) ctx.addIssue({ code: "custom", path: ["targets"], message: r.error.issues[0]!.message });
    if (v.secret !== undefined && v.kind !== "webhook") ctx.addIssue({ code: "custom", path: ["secret"], message: "Only webhook channels have a secret" });
  });

export const updateChannelInput = z
  .object({
    channelId,
    name: channelName.optional(),
    targets: z.array(z.string().max(2000)).max(20, "At most 20 targets").optional(),
    minSeverity: severity.optional(),
    enabled: z.boolean().optional(),
    /** Absent: unchanged. Never returned. */
    secret: webhookSecret.optional(),
    /** Replace the secret with a generated one, returned once. */
    rotateSecret: z.boolean().optional(),
  })
  .refine((v) => !(v.secret && v.rotateSecret), { error: "Give a new secret or ask for a generated one, not both", path: ["secret"] });

export const deliveriesInput = z.object({
  mspId,
  alertId: alertId.optional(),
  channelId: channelId.optional(),
  state: z.array(z.enum(["pending", "sent", "failed"], { error: "State is pending, sent or failed" })).max(3).optional(),
  cursor,
  limit: pageSize,
});
