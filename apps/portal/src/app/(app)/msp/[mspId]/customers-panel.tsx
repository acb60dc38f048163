"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorBanner, Field, formValues, SubmitButton } from "~/components/form";
import { errorMessage, fieldErrors } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";

export function CustomersPanel({ mspId }: { mspId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const customers = useQuery(trpc.customers.list.queryOptions({ mspId }));
  const create = useMutation(
    trpc.customers.create.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.customers.list.queryKey({ mspId }) }),
    }),
  );
  const [fields, setFields] = useState<Record<string, string>>({});

  return (
    <>
      <h2>Customers</h2>
      <ErrorBanner message={errorMessage(customers.error)} />
      {customers.data ? (
        customers.data.length === 0 ? (
          <p className="muted">No customers yet. Add the first one below.</p>
        ) : (
          <table data-testid="customers">
            <thead>
              <tr>
                <th>Customer</th>
                <th>Machines</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {customers.data.map((c) => (
                <tr key={c.id}>
                  <td>
                    <a href={`/customers/${c.id}`}>{c.name}</a>
                  </td>
                  <td>{c.machineCount}</td>
                  <td className="muted">{new Date(c.createdAt).toLocaleDateString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : customers.isLoading ? (
        <p className="muted">Loading…</p>
      ) : null}

      <div className="card" style={{ marginTop: "1rem" }}>
        <h2 style={{ marginTop: 0 }}>Add a customer</h2>
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            const form = e.currentTarget;
            setFields({});
            try {
              await create.mutateAsync({ mspId, name: (formValues(form).name ?? "").trim() });
              form.reset();
            } catch (err) {
              setFields(fieldErrors(err));
            }
          }}
        >
          <div className="row">
            <Field label="Customer name" name="name" error={fields.name} />
            <SubmitButton pending={create.isPending}>Create customer</SubmitButton>
          </div>
          <ErrorBanner message={Object.keys(fields).length ? null : errorMessage(create.error)} />
        </form>
      </div>
    </>
  );
}
