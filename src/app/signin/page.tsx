import { redirect } from "next/navigation";
import { SignInForm } from "@/app/_ui/sign-in-form";
import { currentSession } from "@/web/auth";
import { Brand } from "@/app/_ui/brand";

export default async function SignInPage() {
  if (await currentSession()) redirect("/");
  return (
    <main className="signin">
      <div className="card signin-card">
        <Brand big />
        <p className="muted">Sign in with your tenant&apos;s API key to watch and drive its token refreshes.</p>
        <SignInForm />
        <p className="muted small">
          No key? An operator creates one with <code>npx refresca tenants create &lt;tenantId&gt;</code>; it is shown once.
        </p>
      </div>
    </main>
  );
}
