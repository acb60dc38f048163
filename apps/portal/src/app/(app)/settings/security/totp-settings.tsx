"use client";
import qrcode from "qrcode-generator";
import { useMemo, useState } from "react";
import { ErrorBanner, Field, formValues, SubmitButton } from "~/components/form";
import { authClient } from "~/lib/auth-client";
import { authFieldErrors, authMessage } from "~/lib/auth-errors";

function QrCode({ text }: { text: string }) {
  const src = useMemo(() => {
    const qr = qrcode(0, "M");
    qr.addData(text);
    qr.make();
    return qr.createDataURL(5, 4);
  }, [text]);
  // eslint-disable-next-line @next/next/no-img-element
  return <img src={src} alt="QR code for your authenticator app" width={220} height={220} />;
}

export function TotpSettings({ enabled }: { enabled: boolean }) {
  const [setup, setSetup] = useState<{ uri: string; secret: string; backupCodes: string[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);

  if (enabled || done) {
    return (
      <>
        <p className="ok-banner" data-testid="mfa-enabled">
          Two-factor authentication is on. Sign-in asks for a code from your authenticator app.
        </p>
        {!done ? (
          <form
            noValidate
            onSubmit={async (e) => {
              e.preventDefault();
              setBusy(true);
              const res = await authClient.twoFactor.disable({ password: formValues(e.currentTarget).password ?? "" }).finally(() => setBusy(false));
              if (res.error) {
                setFields(authFieldErrors(res.error));
                setError(authMessage(res.error));
                return;
              }
              window.location.reload();
            }}
          >
            <div className="row">
              <Field label="Password (to turn it off)" name="password" type="password" autoComplete="current-password" error={fields.password} />
              <SubmitButton className="danger" pending={busy}>Turn off</SubmitButton>
            </div>
            <ErrorBanner message={error} />
          </form>
        ) : null}
      </>
    );
  }

  if (!setup) {
    return (
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          setFields({});
          const res = await authClient.twoFactor.enable({ password: formValues(e.currentTarget).password ?? "" });
          setBusy(false);
          if (res.error || !res.data || !("totpURI" in res.data)) {
            setFields(authFieldErrors(res.error) ?? {});
            setError(res.error ? authMessage(res.error) : "Could not start the setup");
            return;
          }
          const secret = new URL(res.data.totpURI).searchParams.get("secret") ?? "";
          setSetup({ uri: res.data.totpURI, secret, backupCodes: res.data.backupCodes });
        }}
      >
        <p className="muted">Confirm your password to set up an authenticator app.</p>
        <div className="row">
          <Field label="Password" name="password" type="password" autoComplete="current-password" error={fields.password} />
          <SubmitButton pending={busy}>Set up two-factor authentication</SubmitButton>
        </div>
        <ErrorBanner message={error} />
      </form>
    );
  }

  return (
    <>
      <p>Scan the QR code with your authenticator app, or enter the secret by hand. Then enter the code it shows.</p>
      <QrCode text={setup.uri} />
      <p>
        Secret: <code data-testid="totp-secret">{setup.secret}</code>
      </p>
      <details>
        <summary>Backup codes (store them somewhere safe; each works once)</summary>
        <pre>{setup.backupCodes.join("\n")}</pre>
      </details>
      <form
        noValidate
        onSubmit={async (e) => {
          e.preventDefault();
          const code = (formValues(e.currentTarget).code ?? "").replace(/\s+/g, "");
          if (!/^\d{6}$/.test(code)) return setFields({ code: "Enter the 6-digit code" });
          setBusy(true);
          setFields({});
          const res = await authClient.twoFactor.verifyTotp({ code });
          setBusy(false);
          if (res.error) return setFields({ code: res.error.status === 429 ? authMessage(res.error)! : "That code is not valid. Try the current one." });
          setDone(true);
        }}
      >
        <div className="row">
          <Field label="Code from the app" name="code" inputMode="numeric" autoComplete="one-time-code" error={fields.code} />
          <SubmitButton pending={busy}>Verify and turn on</SubmitButton>
        </div>
      </form>
    </>
  );
}
