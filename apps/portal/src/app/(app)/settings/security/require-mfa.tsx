"use client";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorBanner } from "~/components/form";
import { errorMessage } from "~/lib/errors";
import { useHydrated } from "~/lib/hydrated";
import { useTRPC } from "~/lib/trpc";

export function RequireMfaToggle({ mspId, requireMfa }: { mspId: string; requireMfa: boolean }) {
  const trpc = useTRPC();
  const [value, setValue] = useState(requireMfa);
  const hydrated = useHydrated();
  const update = useMutation(trpc.msp.update.mutationOptions());
  return (
    <>
      <label className="inline">
        <input
          type="checkbox"
          checked={value}
          disabled={!hydrated || update.isPending}
          onChange={async (e) => {
            const next = e.currentTarget.checked;
            setValue(next);
            try {
              await update.mutateAsync({ mspId, requireMfa: next });
            } catch {
              // Refused: back to the stored value; the banner below says why.
              setValue(!next);
            }
          }}
        />{" "}
        Require two-factor authentication for all MSP users
      </label>
      <p className="muted">Staff without an authenticator app are sent here to set one up before they can do anything else.</p>
      {update.isSuccess ? <p className="ok-banner">Saved.</p> : null}
      <ErrorBanner message={errorMessage(update.error)} />
    </>
  );
}
