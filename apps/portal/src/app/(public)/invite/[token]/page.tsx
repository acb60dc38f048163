import { TRPCError } from "@trpc/server";
import { getSession, serverCaller } from "~/server/session";
import { InviteFlow } from "./invite-flow";

export const dynamic = "force-dynamic";

export default async function InvitePage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const caller = await serverCaller();
  let invitation;
  try {
    invitation = await caller.invitations.lookup({ token });
  } catch (err) {
    const message = err instanceof TRPCError ? err.message : "This invitation could not be loaded.";
    return (
      <div className="card">
        <h1>Invitation</h1>
        <p className="error-banner">{message}</p>
      </div>
    );
  }
  const session = await getSession();
  return (
    <div className="card">
      <h1>Join {invitation.orgName}</h1>
      <p>
        <strong>{invitation.email}</strong> is invited as <strong>{invitation.role.replace(/_/g, " ")}</strong>.
      </p>
      <InviteFlow token={token} invitation={invitation} signedInEmail={session?.user.email ?? null} />
    </div>
  );
}
