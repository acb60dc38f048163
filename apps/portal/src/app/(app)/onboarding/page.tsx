"use client";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorBanner, Field, formValues, SubmitButton } from "~/components/form";
import { errorMessage, fieldErrors } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";

/** A signed-in user without any membership: start an MSP (invited users accept their link instead). */
export default function OnboardingPage() {
  const trpc = useTRPC();
  const create = useMutation(trpc.onboarding.createMsp.mutationOptions());
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  return (
    <div className="card" style={{ maxWidth: 480 }}>
      <h1>Create your MSP</h1>
      <p className="muted">You are not a member of any MSP or customer yet. If you were invited, open the link in your invitation email instead.</p>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            const msp = await create.mutateAsync({ name: (formValues(e.currentTarget).name ?? "").trim() });
            window.location.assign(`/msp/${msp.id}`);
          } catch (err) {
            setFields(fieldErrors(err));
            setError(errorMessage(err));
          }
        }}
      >
        <Field label="MSP (company) name" name="name" error={fields.name} />
        <ErrorBanner message={error} />
        <SubmitButton pending={create.isPending}>Create MSP</SubmitButton>
      </form>
    </div>
  );
}
