import { SignInForm } from "./sign-in-form";

export const metadata = { title: "Sign in · Tidemark" };

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ next?: string; email?: string }> }) {
  const { next, email } = await searchParams;
  return (
    <div className="card">
      <h1>Sign in</h1>
      <SignInForm next={next} email={email} />
    </div>
  );
}
