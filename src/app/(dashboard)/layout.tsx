import { redirect } from "next/navigation";
import { Suspense, type ReactNode } from "react";
import { signOut } from "@/app/actions/session";
import { Nav } from "@/app/_ui/nav";
import { currentSession } from "@/web/auth";
import { Brand } from "@/app/_ui/brand";

/** Every dashboard page: signed in, or off to the sign-in page. (Each page and action checks again.) */
export default async function DashboardLayout({ children }: { children: ReactNode }) {
  const session = await currentSession();
  if (!session) redirect("/signin");
  return (
    <>
      <header className="topbar">
        <Brand />
        <Suspense>
          <Nav />
        </Suspense>
        <div className="who">
          {session.role === "admin" ? (
            <span className="badge neutral">Admin</span>
          ) : (
            <span title={session.tenantId}>{session.tenantName}</span>
          )}
          <form action={signOut}>
            <button type="submit" className="link-button">
              Sign out
            </button>
          </form>
        </div>
      </header>
      <main className="page">{children}</main>
    </>
  );
}
