"use server";
import { redirect } from "next/navigation";
import { signInWithKey, signOutSession } from "@/web/sign-in";

export interface SignInState {
  error: string | null;
}

/** The sign-in form's action: a tenant's API key (or the admin key) opens a session; never echoes the key. */
export async function signIn(_previous: SignInState, form: FormData): Promise<SignInState> {
  const key = form.get("key");
  const result = await signInWithKey(typeof key === "string" ? key : "");
  if (!result.ok) return { error: result.error };
  redirect("/");
}

export async function signOut(): Promise<void> {
  await signOutSession();
  redirect("/signin");
}
