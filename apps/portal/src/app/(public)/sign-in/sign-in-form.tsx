"use client";
import { useState } from "react";
import { ErrorBanner, Field, formValues, SubmitButton } from "~/components/form";
import { authClient } from "~/lib/auth-client";
import { authFieldErrors, authMessage, safeNext } from "~/lib/auth-errors";

export function SignInForm({ next, email }: { next?: string; email?: string }) {
  const [step, setStep] = useState<"password" | "totp">("password");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const done = () => window.location.assign(safeNext(next));

  async function submitPassword(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const v = formValues(e.currentTarget);
    setBusy(true);
    setError(null);
    setFields({});
    const res = await authClient.signIn.email({ email: v.email ?? "", password: v.password ?? "" });
    setBusy(false);
    if (res.error) {
      // A locked account says for how long; the generic "too many attempts" is about this address.
      setError(res.error.code === "ACCOUNT_LOCKED" && res.error.message ? res.error.message : authMessage(res.error));
      setFields(authFieldErrors(res.error));
      return;
    }
    if (res.data && "twoFactorRedirect" in res.data && res.data.twoFactorRedirect) {
      setStep("totp");
      return;
    }
    done();
  }

  async function submitCode(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const code = (formValues(e.currentTarget).code ?? "").replace(/\s+/g, "");
    if (!/^\d{6}$/.test(code)) {
      setFields({ code: "Enter the 6-digit code from your authenticator app" });
      return;
    }
    setBusy(true);
    setError(null);
    setFields({});
    const res = await authClient.twoFactor.verifyTotp({ code });
    setBusy(false);
    if (res.error) {
      const message = res.error.status === 429 ? authMessage(res.error)! : "That code is not valid. Check your authenticator app and try again.";
      setFields({ code: message });
      return;
    }
    done();
  }

  if (step === "totp") {
    return (
      <form onSubmit={submitCode} noValidate>
        <p className="muted">Enter the 6-digit code from your authenticator app.</p>
        <Field label="Authentication code" name="code" inputMode="numeric" autoComplete="one-time-code" autoFocus error={fields.code} />
        <ErrorBanner message={error} />
        <SubmitButton pending={busy}>Verify</SubmitButton>
      </form>
    );
  }

  return (
    <form onSubmit={submitPassword} noValidate>
      <Field label="Email" name="email" type="email" autoComplete="email" defaultValue={email} required error={fields.email} />
      <Field label="Password" name="password" type="password" autoComplete="current-password" required error={fields.password} />
      <ErrorBanner message={error} />
      <div className="row">
        <SubmitButton pending={busy}>Sign in</SubmitButton>
        <a href="/forgot-password">Forgot password?</a>
        <a href={`/sign-up${next ? `?next=${encodeURIComponent(next)}` : ""}`}>Create an account</a>
      </div>
    </form>
  );
}
