import { SignUpForm } from "./sign-up-form";

export const metadata = { title: "Create your MSP · Tidemark" };

export default function SignUpPage() {
  return (
    <div className="card">
      <h1>Create your MSP account</h1>
      <SignUpForm />
    </div>
  );
}
