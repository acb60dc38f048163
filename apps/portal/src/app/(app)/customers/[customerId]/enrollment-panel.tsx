"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { CopyButton, ErrorBanner, Field, formValues, SubmitButton } from "~/components/form";
import { errorMessage, fieldErrors } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";

type Created = { token: string; expiresAt: Date | string; installCommand: string };

function tokenState(t: { usedAt?: Date | string | null; revokedAt?: Date | string | null; expiresAt: Date | string }) {
  if (t.revokedAt) return <span className="badge bad">revoked</span>;
  if (t.usedAt) return <span className="badge">used {new Date(t.usedAt).toLocaleString()}</span>;
  if (new Date(t.expiresAt).getTime() < Date.now()) return <span className="badge warn">expired</span>;
  return <span className="badge ok">active</span>;
}

export function EnrollmentPanel({ customerId }: { customerId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const listKey = trpc.enrollment.list.queryKey({ customerId });
  const tokens = useQuery(trpc.enrollment.list.queryOptions({ customerId }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: listKey });
  const create = useMutation(trpc.enrollment.create.mutationOptions({ onSuccess: refresh }));
  const revoke = useMutation(trpc.enrollment.revoke.mutationOptions({ onSuccess: refresh }));
  // The plaintext token exists only in this response; it is never shown again.
  const [created, setCreated] = useState<Created | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});

  return (
    <>
      <h2>Enroll a machine</h2>
      <div className="card">
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            setFields({});
            const hours = Number(formValues(e.currentTarget).expiresInHours);
            try {
              setCreated(await create.mutateAsync({ customerId, expiresInHours: hours }));
            } catch (err) {
              setFields(fieldErrors(err));
            }
          }}
        >
          <div className="row">
            <Field label="Token valid for (hours)" name="expiresInHours" type="number" min={1} defaultValue={24} error={fields.expiresInHours} />
            <SubmitButton pending={create.isPending}>Create enrollment token</SubmitButton>
          </div>
          <ErrorBanner message={Object.keys(fields).length ? null : errorMessage(create.error)} />
        </form>
        {created ? (
          <div data-testid="install-command-panel">
            <p className="ok-banner">
              Run this on the machine to protect. The token works once and expires {new Date(created.expiresAt).toLocaleString()}.{" "}
              <strong>It is shown only now.</strong>
            </p>
            <pre className="command" data-testid="install-command">
              {created.installCommand}
            </pre>
            <div className="actions">
              <CopyButton text={created.installCommand} label="Copy command" />
              <button type="button" className="secondary" onClick={() => setCreated(null)}>
                Done
              </button>
            </div>
          </div>
        ) : null}
      </div>

      <h2>Enrollment tokens</h2>
      <ErrorBanner message={errorMessage(tokens.error ?? revoke.error)} />
      {tokens.data?.length === 0 ? <p className="muted">No tokens yet.</p> : null}
      {tokens.data && tokens.data.length > 0 ? (
        <table data-testid="enrollment-tokens">
          <thead>
            <tr>
              <th>Created</th>
              <th>Expires</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((t) => (
              <tr key={t.id}>
                <td>{new Date(t.createdAt).toLocaleString()}</td>
                <td>{new Date(t.expiresAt).toLocaleString()}</td>
                <td>{tokenState(t)}</td>
                <td>
                  {!t.usedAt && !t.revokedAt && new Date(t.expiresAt).getTime() > Date.now() ? (
                    <button type="button" className="danger" disabled={revoke.isPending} onClick={() => revoke.mutate({ tokenId: t.id })}>
                      Revoke
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
