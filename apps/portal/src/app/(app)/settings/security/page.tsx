import { serverCaller } from "~/server/session";
import { RequireMfaToggle } from "./require-mfa";
import { TotpSettings } from "./totp-settings";

export const dynamic = "force-dynamic";

export default async function SecurityPage() {
  const caller = await serverCaller();
  const me = await caller.me.get();
  // An owner whose MSP already requires MFA cannot load it until they have MFA themselves.
  const owned = await Promise.all(
    me.memberships
      .filter((m) => m.kind === "msp" && m.role === "owner")
      .map((m) => caller.msp.get({ mspId: m.mspId }).catch(() => null)),
  );
  const ownedMsps = owned.filter((m) => m !== null);
  const setupRequired = me.memberships.filter((m) => m.mfaSetupRequired).map((m) => m.name);
  return (
    <>
      <h1>Security</h1>
      {setupRequired.length > 0 ? (
        <p className="error-banner" data-testid="mfa-required">
          {setupRequired.join(", ")} requires two-factor authentication. Set it up below to continue.
        </p>
      ) : null}
      <div className="card">
        <h2 style={{ marginTop: 0 }}>Two-factor authentication (TOTP)</h2>
        <TotpSettings enabled={me.mfaEnabled} />
      </div>
      {ownedMsps.map((msp) => (
        <div className="card" key={msp.id}>
          <h2 style={{ marginTop: 0 }}>{msp.name}: MFA policy</h2>
          <RequireMfaToggle mspId={msp.id} requireMfa={msp.requireMfa} />
        </div>
      ))}
    </>
  );
}
