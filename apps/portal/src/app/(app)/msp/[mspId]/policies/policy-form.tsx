"use client";
import type { AppRouter } from "@tidemark/api";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import { useState } from "react";
import { ErrorBanner, Field, formValues, SubmitButton } from "~/components/form";
import { errorMessage, fieldErrors } from "~/lib/errors";

type PolicyInput = Omit<inferRouterInputs<AppRouter>["policies"]["create"], "mspId">;
type StoredPolicy = inferRouterOutputs<AppRouter>["policies"]["list"][number];

/**
 * The settings the API takes for a policy (the keys of `policies.create`), typed as a stored
 * policy carries them, so every field is present and a field added to the API shows up here.
 */
export type PolicyFields = Pick<StoredPolicy, keyof PolicyInput>;

const GiB = 1024 ** 3;

export const policyDefaults: PolicyFields = {
  name: "",
  rpoSeconds: 60,
  includePaths: [],
  excludePaths: [],
  volumes: [],
  retention: { keepWithinHours: 48, hourly: 24, daily: 14, weekly: 8, monthly: 12, yearly: 3 },
  restoreTestEveryHours: 24,
  rescanEveryHours: 24,
  spoolLimitBytes: 10 * GiB,
  volumeIntervalSeconds: 3600,
  vss: true,
  preFreezeCommand: null,
  postThawCommand: null,
  hookTimeoutSeconds: 60,
  scrubPeriodDays: 7,
  repoCheckEveryHours: 24,
  offlineAlertMinutes: 30,
  rpoMissedFactor: 3,
};

/** The settings a stored policy row carries, whatever else the row holds. */
export function fromPolicy(p: PolicyFields): PolicyFields {
  return Object.fromEntries(Object.keys(policyDefaults).map((k) => [k, p[k as keyof PolicyFields]])) as PolicyFields;
}

const lines = (s: string | undefined) =>
  (s ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
// Empty number inputs go to the server as NaN so its zod message, not a silent default, answers.
const num = (s: string | undefined) => (s === undefined || s.trim() === "" ? Number.NaN : Number(s));

function toFields(v: Record<string, string>): PolicyFields {
  return {
    name: (v.name ?? "").trim(),
    rpoSeconds: num(v.rpoSeconds),
    includePaths: lines(v.includePaths),
    excludePaths: lines(v.excludePaths),
    volumes: lines(v.volumes),
    retention: {
      keepWithinHours: num(v.keepWithinHours),
      hourly: num(v.hourly),
      daily: num(v.daily),
      weekly: num(v.weekly),
      monthly: num(v.monthly),
      yearly: num(v.yearly),
    },
    restoreTestEveryHours: num(v.restoreTestEveryHours),
    rescanEveryHours: num(v.rescanEveryHours),
    spoolLimitBytes: Math.round(num(v.spoolLimitGiB) * GiB),
    volumeIntervalSeconds: num(v.volumeIntervalSeconds),
    // An unchecked box is absent from the form data.
    vss: v.vss === "on",
    // Empty clears the hook; the server trims and maps "" to none.
    preFreezeCommand: v.preFreezeCommand ?? "",
    postThawCommand: v.postThawCommand ?? "",
    hookTimeoutSeconds: num(v.hookTimeoutSeconds),
    scrubPeriodDays: num(v.scrubPeriodDays),
    repoCheckEveryHours: num(v.repoCheckEveryHours),
    offlineAlertMinutes: num(v.offlineAlertMinutes),
    rpoMissedFactor: num(v.rpoMissedFactor),
  };
}

export function PolicyForm({
  initial,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  initial: PolicyFields;
  submitLabel: string;
  onSubmit: (fields: PolicyFields) => Promise<unknown>;
  onCancel?: () => void;
}) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const r = initial.retention;
  const e = (k: string) => errors[k];
  return (
    <form
      noValidate
      onSubmit={async (ev) => {
        ev.preventDefault();
        const local: Record<string, string> = {};
        const fields = toFields(formValues(ev.currentTarget));
        if (fields.rpoSeconds < 5) local.rpoSeconds = "The shortest recovery point interval is 5 seconds";
        setErrors(local);
        setError(null);
        if (Object.keys(local).length) return;
        setBusy(true);
        try {
          await onSubmit(fields);
        } catch (err) {
          const f = fieldErrors(err);
          if (f.spoolLimitBytes) f.spoolLimitGiB = f.spoolLimitBytes;
          setErrors(f);
          setError(errorMessage(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <Field label="Name" name="name" defaultValue={initial.name} error={e("name")} />
      <fieldset className="card" data-testid="policy-capture">
        <legend>Capture</legend>
        <div className="grid3">
          <Field label="Recovery point objective (seconds)" name="rpoSeconds" type="number" min={5} defaultValue={initial.rpoSeconds} hint="A recovery point at most this often while changes happen (min 5)" error={e("rpoSeconds")} />
          <Field label="Full rescan every (hours)" name="rescanEveryHours" type="number" min={1} max={720} defaultValue={initial.rescanEveryHours} hint="Catches changes the OS did not report" error={e("rescanEveryHours")} />
          <Field label="Offline spool limit (GiB)" name="spoolLimitGiB" type="number" min={0} step="any" defaultValue={initial.spoolLimitBytes / GiB} hint="Local space for points while Azure is unreachable" error={e("spoolLimitGiB")} />
        </div>
        <div className="grid3">
          <div className="field">
            <label htmlFor="includePaths">Include paths (one per line)</label>
            <textarea id="includePaths" name="includePaths" defaultValue={initial.includePaths.join("\n")} placeholder="Empty: the whole machine" />
            {e("includePaths") ? <small className="field-error">{e("includePaths")}</small> : null}
          </div>
          <div className="field">
            <label htmlFor="excludePaths">Exclude paths (one per line)</label>
            <textarea id="excludePaths" name="excludePaths" defaultValue={initial.excludePaths.join("\n")} placeholder={"C:\\pagefile.sys\n/tmp"} />
            {e("excludePaths") ? <small className="field-error">{e("excludePaths")}</small> : null}
          </div>
          <div className="field">
            <label htmlFor="volumes">Volumes (one per line)</label>
            <textarea id="volumes" name="volumes" defaultValue={initial.volumes.join("\n")} placeholder={"C:\n/dev/sda1"} />
            {e("volumes") ? <small className="field-error">{e("volumes")}</small> : null}
          </div>
        </div>
        <Field label="Volume image every (seconds)" name="volumeIntervalSeconds" type="number" min={60} defaultValue={initial.volumeIntervalSeconds} hint="Whole-volume images on their own, slower interval (60 s – 30 days)" error={e("volumeIntervalSeconds")} />
      </fieldset>
      <fieldset className="card" data-testid="policy-consistency">
        <legend>Consistency</legend>
        <div className="field">
          <label className="inline">
            <input type="checkbox" name="vss" defaultChecked={initial.vss} /> Take a VSS snapshot each cycle (Windows; application-consistent points)
          </label>
          {e("vss") ? <small className="field-error">{e("vss")}</small> : null}
        </div>
        <p className="hint" data-testid="hook-warning" role="note">
          Hook commands run on the protected machine through its shell, as the agent&apos;s service account (LocalSystem on Windows, root on
          Linux), before and after each snapshot. Anyone who can edit this policy can run commands on every machine it applies to.
        </p>
        <div className="grid3">
          <Field label="Pre-freeze command" name="preFreezeCommand" defaultValue={initial.preFreezeCommand ?? ""} placeholder="e.g. psql -c 'CHECKPOINT'" hint="Empty: none" error={e("preFreezeCommand")} />
          <Field label="Post-thaw command" name="postThawCommand" defaultValue={initial.postThawCommand ?? ""} placeholder="e.g. systemctl start app" hint="Empty: none" error={e("postThawCommand")} />
          <Field label="Hook timeout (seconds)" name="hookTimeoutSeconds" type="number" min={1} max={3600} defaultValue={initial.hookTimeoutSeconds} hint="A hook that runs longer is stopped; the point is then crash-consistent" error={e("hookTimeoutSeconds")} />
        </div>
      </fieldset>
      <fieldset className="card" data-testid="policy-verification">
        <legend>Verification</legend>
        <div className="grid3">
          <Field label="Scrub every pack within (days)" name="scrubPeriodDays" type="number" min={1} max={365} defaultValue={initial.scrubPeriodDays} hint="Every stored pack is read and verified at least this often" error={e("scrubPeriodDays")} />
          <Field label="Restore test every (hours)" name="restoreTestEveryHours" type="number" min={1} defaultValue={initial.restoreTestEveryHours} error={e("restoreTestEveryHours")} />
          <Field label="Repository check every (hours)" name="repoCheckEveryHours" type="number" min={1} max={720} defaultValue={initial.repoCheckEveryHours} hint="Index against container: every indexed chunk's pack exists" error={e("repoCheckEveryHours")} />
        </div>
      </fieldset>
      <fieldset className="card" data-testid="policy-alerts">
        <legend>Alerts</legend>
        <div className="grid2">
          <Field label="Machine offline after (minutes)" name="offlineAlertMinutes" type="number" min={2} defaultValue={initial.offlineAlertMinutes} hint="No heartbeat for this long raises an offline alert" error={e("offlineAlertMinutes")} />
          <Field label="RPO missed after (× RPO)" name="rpoMissedFactor" type="number" min={2} max={100} defaultValue={initial.rpoMissedFactor} hint="No recovery point within this many RPOs raises an alert" error={e("rpoMissedFactor")} />
        </div>
      </fieldset>
      <fieldset className="card">
        <legend>Retention (GFS)</legend>
        <div className="grid3">
          <Field label="Keep everything within (hours)" name="keepWithinHours" type="number" min={0} defaultValue={r.keepWithinHours} />
          <Field label="Hourly" name="hourly" type="number" min={0} defaultValue={r.hourly} />
          <Field label="Daily" name="daily" type="number" min={0} defaultValue={r.daily} />
          <Field label="Weekly" name="weekly" type="number" min={0} defaultValue={r.weekly} />
          <Field label="Monthly" name="monthly" type="number" min={0} defaultValue={r.monthly} />
          <Field label="Yearly" name="yearly" type="number" min={0} defaultValue={r.yearly} />
        </div>
        {e("retention") ? <small className="field-error">{e("retention")}</small> : null}
      </fieldset>
      <ErrorBanner message={error} />
      <div className="actions">
        <SubmitButton pending={busy}>{submitLabel}</SubmitButton>
        {onCancel ? (
          <button type="button" className="secondary" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}
