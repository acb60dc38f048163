import { ResetPasswordForm } from "./reset-form";

export default async function ResetPasswordPage({ searchParams }: { searchParams: Promise<{ token?: string; error?: string }> }) {
  const { token, error } = await searchParams;
  return (
    <div className="card">
      <h1>Choose a new password</h1>
      {!token || error ? (
        <p className="error-banner">This reset link is invalid or has expired. <a href="/forgot-password">Request a new one</a>.</p>
      ) : (
        <ResetPasswordForm token={token} />
      )}
    </div>
  );
}
