"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorBanner, Field, formValues, SubmitButton } from "~/components/form";
import { errorMessage, fieldErrors } from "~/lib/errors";
import { formatBytes } from "~/lib/format";
import { useTRPC } from "~/lib/trpc";

const GiB = 1024 ** 3;

/** The customer's storage quota against what its container holds; MSP staff with customers.write may change it. */
export function QuotaPanel({ customerId, canWrite }: { customerId: string; canWrite: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const customer = useQuery(trpc.customers.get.queryOptions({ customerId }));
  const storage = useQuery(trpc.customers.storage.queryOptions({ customerId }));
  const update = useMutation(
    trpc.customers.update.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.customers.get.queryKey({ customerId }) }) }),
  );
  const [saved, setSaved] = useState(false);
  const quota = customer.data?.storageQuotaBytes ?? null;
  const stored = storage.data?.storedBytes;
  const errors = fieldErrors(update.error);
  return (
    <div className="card" data-testid="quota-panel">
      <h2 style={{ marginTop: 0 }}>Storage quota</h2>
      <p data-testid="quota-state">
        {quota === null ? "No quota" : `${formatBytes(stored)} of ${formatBytes(quota)} used`}
        {quota !== null && stored !== undefined && stored > quota ? <span className="badge bad"> over quota</span> : null}
      </p>
      {canWrite && customer.data ? (
        <form
          className="row"
          noValidate
          onSubmit={(ev) => {
            ev.preventDefault();
            setSaved(false);
            const v = formValues(ev.currentTarget).quotaGiB?.trim() ?? "";
            // Empty lifts the quota; anything else goes to the server as given so its message answers.
            const storageQuotaBytes = v === "" ? null : Math.round(Number(v) * GiB);
            update.mutate({ customerId, storageQuotaBytes: Number.isNaN(storageQuotaBytes) ? Number.NaN : storageQuotaBytes }, { onSuccess: () => setSaved(true) });
          }}
        >
          <Field
            label="Quota (GiB)"
            name="quotaGiB"
            type="number"
            min={1}
            step="any"
            key={String(quota)}
            defaultValue={quota === null ? "" : quota / GiB}
            hint="Empty: no quota"
            error={errors.storageQuotaBytes}
          />
          <SubmitButton pending={update.isPending}>Save quota</SubmitButton>
          {saved && !update.isPending ? <span className="ok-banner">Saved</span> : null}
        </form>
      ) : null}
      {update.error && !errors.storageQuotaBytes ? <ErrorBanner message={errorMessage(update.error)} /> : null}
    </div>
  );
}
