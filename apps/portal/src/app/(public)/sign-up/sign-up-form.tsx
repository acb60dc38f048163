"use client";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorBanner, Field, formValues, SubmitButton } from "~/components/form";
import { authClient } from "~/lib/auth-client";
import { authFieldErrors, authMessage } from "~/lib/auth-errors";
import { errorMessage, fieldErrors } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";

export function SignUpForm() {
  const trpc = useTRPC();
  const createMsp = useMutation(trpc.onboarding.createMsp.mutationOptions());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  // After the account exists a retry must only create the MSP, not sign up again.
  const [accountCreated, setAccountCreated] = useState(false);

  async function submit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const v = formValues(e.currentTarget);
    const local: Record<string, string> = {};
    if (!accountCreated) {
      if (!v.name?.trim()) local.name = "Enter your name";
      if (!v.email?.includes("@")) local.email = "Enter a valid email address";
      if ((v.password ?? "").length < 10) local.password = "Use at least 10 characters";
    }
    if (!v.mspName?.trim()) local.mspName = "Enter your company name";
    setFields(local);
    setError(null);
    if (Object.keys(local).length > 0) return;
    setBusy(true);
    try {
      if (!accountCreated) {
        const res = await authClient.signUp.email({ name: v.name!.trim(), email: v.email!.trim(), password: v.password! });
        if (res.error) {
          setError(authMessage(res.error));
          setFields(authFieldErrors(res.error));
          return;
        }
        setAccountCreated(true);
      }
      const msp = await createMsp.mutateAsync({ name: v.mspName!.trim() });
      window.location.assign(`/msp/${msp.id}`);
    } catch (err) {
      const f = fieldErrors(err);
      setFields(f.name ? { mspName: f.name } : f);
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate>
      {!accountCreated ? (
        <>
          <Field label="Your name" name="name" autoComplete="name" error={fields.name} />
          <Field label="Email" name="email" type="email" autoComplete="email" error={fields.email} />
          <Field label="Password" name="password" type="password" autoComplete="new-password" hint="At least 10 characters" error={fields.password} />
        </>
      ) : (
        <p className="ok-banner">Your account is created. Name your MSP to finish.</p>
      )}
      <Field label="MSP (company) name" name="mspName" autoComplete="organization" error={fields.mspName} />
      <ErrorBanner message={error} />
      <div className="row">
        <SubmitButton pending={busy}>Create account</SubmitButton>
        <a href="/sign-in">I already have an account</a>
      </div>
    </form>
  );
}
