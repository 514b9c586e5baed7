"use client";
import { useActionState } from "react";
import { signIn, type SignInState } from "@/app/actions/session";

export function SignInForm() {
  const [state, action, pending] = useActionState<SignInState, FormData>(signIn, { error: null });
  return (
    <form action={action} className="signin-form">
      <label htmlFor="key">API key</label>
      <input id="key" name="key" type="password" autoComplete="off" spellCheck={false} placeholder="rk_…" required autoFocus />
      <button type="submit" className="button" disabled={pending}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
      {state.error && (
        <p role="alert" className="note error">
          {state.error}
        </p>
      )}
    </form>
  );
}
