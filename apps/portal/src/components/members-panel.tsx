"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorBanner, Field, formValues, SelectField, SubmitButton, valueOptions } from "~/components/form";
import { errorMessage, fieldErrors } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";

const roleLabels: Record<string, string> = {
  owner: "Owner",
  admin: "Admin",
  technician: "Technician",
  read_only: "Read-only",
  customer_admin: "Customer admin",
  customer_user: "Customer user",
};
export const label = (role: string) => roleLabels[role] ?? role;

type Props = {
  mspId: string;
  /** Set on a customer's page: members and invitations of that customer only. */
  customerId?: string;
  roles: readonly string[];
  canInvite: boolean;
  canManage: boolean;
};

function inviteState(i: { acceptedAt?: Date | string | null; revokedAt?: Date | string | null; expiresAt: Date | string }) {
  if (i.revokedAt) return <span className="badge bad">revoked</span>;
  if (i.acceptedAt) return <span className="badge ok">accepted</span>;
  if (new Date(i.expiresAt).getTime() < Date.now()) return <span className="badge warn">expired</span>;
  return <span className="badge">pending</span>;
}

export function MembersPanel({ mspId, customerId, roles, canInvite, canManage }: Props) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const scope = customerId ? { customerId } : { mspId };
  const members = useQuery(trpc.members.list.queryOptions(scope));
  const invitations = useQuery(trpc.invitations.list.queryOptions(scope));
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.members.list.queryKey(scope) }),
      queryClient.invalidateQueries({ queryKey: trpc.invitations.list.queryKey(scope) }),
    ]);
  const invite = useMutation(trpc.invitations.create.mutationOptions({ onSuccess: refresh }));
  const revoke = useMutation(trpc.invitations.revoke.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(trpc.members.remove.mutationOptions({ onSuccess: refresh }));
  const updateRole = useMutation(trpc.members.updateRole.mutationOptions({ onSuccess: refresh }));
  const [fields, setFields] = useState<Record<string, string>>({});
  const [sent, setSent] = useState<{ email: string; status: string } | null>(null);

  return (
    <>
      <h2>Members</h2>
      <ErrorBanner message={errorMessage(members.error ?? remove.error ?? updateRole.error)} />
      {members.data ? (
        <table data-testid="members">
          <thead>
            <tr>
              <th>Name</th>
              <th>Email</th>
              <th>Role</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {members.data.map((m) => (
              <tr key={m.id}>
                <td>{m.name}</td>
                <td>{m.email}</td>
                <td>
                  {canManage && m.role !== "owner" ? (
                    <select
                      aria-label={`Role of ${m.email}`}
                      value={m.role}
                      disabled={updateRole.isPending}
                      onChange={(e) => updateRole.mutate({ membershipId: m.id, role: e.target.value as never })}
                    >
                      {roles.map((r) => (
                        <option key={r} value={r}>
                          {label(r)}
                        </option>
                      ))}
                    </select>
                  ) : (
                    label(m.role)
                  )}
                </td>
                <td>
                  {canManage && m.role !== "owner" ? (
                    <button type="button" className="danger" disabled={remove.isPending} onClick={() => remove.mutate({ membershipId: m.id })}>
                      Remove
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}

      {canInvite ? (
        <div className="card" style={{ marginTop: "1rem" }}>
          <h2 style={{ marginTop: 0 }}>Invite someone</h2>
          <form
            noValidate
            onSubmit={async (e) => {
              e.preventDefault();
              const form = e.currentTarget;
              const v = formValues(form);
              setFields({});
              setSent(null);
              try {
                const created = await invite.mutateAsync({ mspId, customerId, email: (v.email ?? "").trim(), role: v.role as never });
                setSent({ email: v.email ?? "", status: created.emailStatus });
                form.reset();
              } catch (err) {
                setFields(fieldErrors(err));
              }
            }}
          >
            <div className="row">
              <Field label="Email" name="email" type="email" error={fields.email} />
              <SelectField label="Role" name="role" options={valueOptions(roles, label)} defaultValue={roles[roles.length - 1]} error={fields.role} />
              <SubmitButton pending={invite.isPending}>Send invitation</SubmitButton>
            </div>
            <ErrorBanner message={Object.keys(fields).length ? null : errorMessage(invite.error)} />
            {sent?.status === "failed" ? (
              <p className="error-banner">The invitation to {sent.email} was created, but the email could not be sent. Check the mail settings, then revoke and invite again.</p>
            ) : sent ? (
              <p className="ok-banner">Invitation sent to {sent.email}.</p>
            ) : null}
          </form>
        </div>
      ) : null}

      <h2>Invitations</h2>
      <ErrorBanner message={errorMessage(invitations.error ?? revoke.error)} />
      {invitations.data?.length === 0 ? <p className="muted">No invitations.</p> : null}
      {invitations.data && invitations.data.length > 0 ? (
        <table data-testid="invitations">
          <thead>
            <tr>
              <th>Email</th>
              <th>Role</th>
              <th>Expires</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {invitations.data.map((i) => (
              <tr key={i.id}>
                <td>{i.email}</td>
                <td>{label(i.role)}</td>
                <td>{new Date(i.expiresAt).toLocaleString()}</td>
                <td>{inviteState(i)}</td>
                <td>
                  {canInvite && !i.acceptedAt && !i.revokedAt ? (
                    <button type="button" className="danger" disabled={revoke.isPending} onClick={() => revoke.mutate({ invitationId: i.id })}>
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
