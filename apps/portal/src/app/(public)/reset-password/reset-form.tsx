"use client";
import { useState } from "react";
import { ErrorBanner, Field, formValues, SubmitButton } from "~/components/form";
import { authClient } from "~/lib/auth-client";
import { authFieldErrors, authMessage } from "~/lib/auth-errors";

export function ResetPasswordForm({ token }: { token: string }) {
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const v = formValues(e.currentTarget);
    if ((v.password ?? "").length < 10) return setFields({ password: "Use at least 10 characters" });
    if (v.password !== v.confirm) return setFields({ confirm: "The passwords do not match" });
    setFields({});
    setBusy(true);
    const res = await authClient.resetPassword({ newPassword: v.password!, token }).finally(() => setBusy(false));
    if (res.error) {
      setError(authMessage(res.error));
      setFields(authFieldErrors(res.error));
      return;
    }
    setDone(true);
  }

  if (done) {
    return (
      <p className="ok-banner">
        Your password was changed and other sessions were signed out. <a href="/sign-in">Sign in</a>.
      </p>
    );
  }
  return (
    <form onSubmit={submit} noValidate>
      <Field label="New password" name="password" type="password" autoComplete="new-password" error={fields.password} />
      <Field label="Repeat the new password" name="confirm" type="password" autoComplete="new-password" error={fields.confirm} />
      <ErrorBanner message={error} />
      <SubmitButton pending={busy}>Set password</SubmitButton>
    </form>
  );
}
