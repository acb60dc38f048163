"use client";
import { useState } from "react";
import { channelKinds, severities } from "~/components/alert-badges";
import { ErrorBanner, Field, SelectField, SubmitButton, valueOptions } from "~/components/form";

export type ChannelKind = (typeof channelKinds)[number];
export type Severity = (typeof severities)[number];

/** A channel as the settings page lists it; the webhook secret only as "set" or not. */
export type ChannelRow = {
  id: string;
  customerId: string | null;
  customerName?: string | null;
  kind: ChannelKind;
  name: string;
  targets: string[];
  hasSecret: boolean;
  minSeverity: Severity;
  enabled: boolean;
  lastDelivery?: { state: string; event: string; at: Date | string; lastError: string | null } | null;
};

export type ChannelValues = {
  kind: ChannelKind;
  name: string;
  customerId: string | null;
  targets: string[];
  /** Omitted: keep the stored secret (or, on create, let the server generate one). */
  secret?: string;
  /** Replace the secret with a generated one (shown once). */
  rotateSecret?: boolean;
  minSeverity: Severity;
  enabled: boolean;
};

const targetsLabel: Record<ChannelKind, string> = {
  email: "Email addresses (one per line)",
  sms: "Phone numbers in E.164, e.g. +14155550123 (one per line)",
  webhook: "Webhook URL",
};

const lines = (s: string) =>
  s
    .split(/[\n,]/)
    .map((l) => l.trim())
    .filter(Boolean);

/**
 * Create or edit one channel. The webhook secret is write-only: the page never
 * has it, so an empty field on edit means "keep it".
 */
export function ChannelForm({
  initial,
  customers,
  errors,
  formError,
  pending,
  onSubmit,
  onCancel,
}: {
  initial?: ChannelRow;
  customers: { id: string; name: string }[];
  errors: Record<string, string>;
  formError?: string | null;
  pending: boolean;
  onSubmit: (values: ChannelValues) => void;
  onCancel: () => void;
}) {
  const [kind, setKind] = useState<ChannelKind>(initial?.kind ?? "email");
  const editing = Boolean(initial);
  return (
    <form
      className="card"
      data-testid="channel-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const f = new FormData(e.currentTarget);
        const secret = String(f.get("secret") ?? "");
        onSubmit({
          kind,
          name: String(f.get("name") ?? "").trim(),
          customerId: String(f.get("scope") ?? "") || null,
          targets: lines(String(f.get("targets") ?? "")),
          ...(kind === "webhook" && secret ? { secret } : {}),
          ...(kind === "webhook" && !secret && f.get("rotateSecret") === "on" ? { rotateSecret: true } : {}),
          minSeverity: String(f.get("minSeverity")) as Severity,
          enabled: f.get("enabled") === "on",
        });
      }}
    >
      <h2 style={{ marginTop: 0 }}>{editing ? `Edit ${initial!.name}` : "New channel"}</h2>
      <ErrorBanner message={formError} />
      <div className="grid2">
        <SelectField
          label="Kind"
          id="channel-kind"
          name="kind"
          options={valueOptions(channelKinds, (k) => (k === "sms" ? "SMS" : k))}
          value={kind}
          disabled={editing}
          onChange={(e) => setKind(e.target.value as ChannelKind)}
          error={errors.kind}
        />
        <SelectField
          label="Applies to"
          id="channel-scope"
          name="scope"
          options={[{ value: "", label: "All customers (MSP default)" }, ...customers.map((c) => ({ value: c.id, label: `${c.name} only (override)` }))]}
          defaultValue={initial?.customerId ?? ""}
          disabled={editing}
          error={errors.customerId}
        />
      </div>
      <Field label="Channel name" name="name" id="channel-name" defaultValue={initial?.name ?? ""} error={errors.name} />
      {kind === "webhook" ? (
        <>
          <Field label={targetsLabel.webhook} name="targets" id="targets" type="url" defaultValue={initial?.targets[0] ?? ""} error={errors.targets} hint="JSON POST; also fits Slack and Teams incoming webhooks." />
          <Field
            label="Signing secret"
            name="secret"
            id="secret"
            type="password"
            autoComplete="new-password"
            error={errors.secret}
            placeholder={initial ? (initial.hasSecret ? "set — leave empty to keep it" : "not set") : "leave empty to generate one"}
            hint={
              initial
                ? "Write-only: the stored secret is never shown. Type 64 hex characters to replace it."
                : "64 hex characters; empty: one is generated and shown once. Every request is signed with HMAC-SHA-256; stored encrypted."
            }
          />
          {initial ? (
            <label className="inline">
              <input type="checkbox" name="rotateSecret" /> Generate a new secret (shown once)
            </label>
          ) : null}
        </>
      ) : (
        <div className="field">
          <label htmlFor="targets">{targetsLabel[kind]}</label>
          <textarea id="targets" name="targets" defaultValue={initial?.targets.join("\n") ?? ""} aria-invalid={errors.targets ? true : undefined} aria-describedby={errors.targets ? "targets-error" : undefined} />
          {errors.targets ? (
            <small className="field-error" id="targets-error" role="alert">
              {errors.targets}
            </small>
          ) : null}
        </div>
      )}
      <div className="row">
        <SelectField label="Minimum severity" name="minSeverity" options={valueOptions(severities)} defaultValue={initial?.minSeverity ?? "warning"} />
        <label className="inline">
          <input type="checkbox" name="enabled" defaultChecked={initial?.enabled ?? true} /> Enabled
        </label>
        <span style={{ flex: 1 }} />
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
        <SubmitButton pending={pending}>{editing ? "Save channel" : "Create channel"}</SubmitButton>
      </div>
    </form>
  );
}
