"use client";
import { useState } from "react";
import { ErrorBanner, Field, formValues, SubmitButton } from "~/components/form";
import { authClient } from "~/lib/auth-client";
import { authMessage } from "~/lib/auth-errors";

export default function ForgotPasswordPage() {
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [emailError, setEmailError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const email = (formValues(e.currentTarget).email ?? "").trim();
    if (!email.includes("@")) return setEmailError("Enter a valid email address");
    setEmailError(undefined);
    setBusy(true);
    const res = await authClient.requestPasswordReset({ email, redirectTo: "/reset-password" }).finally(() => setBusy(false));
    if (res.error) return setError(authMessage(res.error));
    setSent(true);
  }

  return (
    <div className="card">
      <h1>Reset your password</h1>
      {sent ? (
        <p className="ok-banner">If an account exists for that address, we sent a link to reset the password. It expires in one hour.</p>
      ) : (
        <form onSubmit={submit} noValidate>
          <Field label="Email" name="email" type="email" autoComplete="email" error={emailError} />
          <ErrorBanner message={error} />
          <SubmitButton pending={busy}>Send reset link</SubmitButton>
        </form>
      )}
      <p>
        <a href="/sign-in">Back to sign in</a>
      </p>
    </div>
  );
}
