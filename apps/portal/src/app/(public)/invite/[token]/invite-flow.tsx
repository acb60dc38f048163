"use client";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorBanner, Field, formValues, SubmitButton } from "~/components/form";
import { authClient } from "~/lib/auth-client";
import { authFieldErrors, authMessage } from "~/lib/auth-errors";
import { errorMessage } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";

type Invitation = { email: string; orgName: string; role: string; state: string };

export function InviteFlow({ token, invitation, signedInEmail }: { token: string; invitation: Invitation; signedInEmail: string | null }) {
  const trpc = useTRPC();
  const accept = useMutation(trpc.invitations.accept.mutationOptions());
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const here = `/invite/${token}`;

  if (invitation.state !== "pending") {
    const why: Record<string, string> = {
      accepted: "This invitation was already used.",
      expired: "This invitation has expired. Ask for a new one.",
      revoked: "This invitation was revoked.",
    };
    return <p className="error-banner">{why[invitation.state] ?? `This invitation is ${invitation.state}.`}</p>;
  }

  async function acceptNow() {
    setBusy(true);
    setError(null);
    try {
      await accept.mutateAsync({ token });
      window.location.assign("/");
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  if (signedInEmail && signedInEmail.toLowerCase() === invitation.email.toLowerCase()) {
    return (
      <>
        <ErrorBanner message={error} />
        <button type="button" onClick={acceptNow} disabled={busy}>
          Accept invitation
        </button>
      </>
    );
  }

  if (signedInEmail) {
    return (
      <>
        <p className="error-banner">
          You are signed in as {signedInEmail}, but this invitation is for {invitation.email}.
        </p>
        <button type="button" className="secondary" onClick={async () => { await authClient.signOut(); window.location.reload(); }}>
          Sign out and continue
        </button>
      </>
    );
  }

  async function signUpAndAccept(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const v = formValues(e.currentTarget);
    const local: Record<string, string> = {};
    if (!v.name?.trim()) local.name = "Enter your name";
    if ((v.password ?? "").length < 10) local.password = "Use at least 10 characters";
    setFields(local);
    if (Object.keys(local).length > 0) return;
    setBusy(true);
    setError(null);
    const res = await authClient.signUp.email({ name: v.name!.trim(), email: invitation.email, password: v.password! });
    if (res.error) {
      setBusy(false);
      setError(authMessage(res.error));
      setFields(authFieldErrors(res.error));
      return;
    }
    await acceptNow();
  }

  return (
    <>
      <h2>Set up your account</h2>
      <form onSubmit={signUpAndAccept} noValidate>
        <Field label="Email" name="email" value={invitation.email} readOnly />
        <Field label="Your name" name="name" autoComplete="name" error={fields.name} />
        <Field label="Choose a password" name="password" type="password" autoComplete="new-password" hint="At least 10 characters" error={fields.password} />
        <ErrorBanner message={error} />
        <SubmitButton pending={busy}>Create account and join</SubmitButton>
      </form>
      <p className="muted">
        Already have an account for {invitation.email}?{" "}
        <a href={`/sign-in?next=${encodeURIComponent(here)}&email=${encodeURIComponent(invitation.email)}`}>Sign in to accept</a>
      </p>
    </>
  );
}
