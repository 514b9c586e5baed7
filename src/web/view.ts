import { redirect } from "next/navigation";
import { currentSession, type Session } from "./auth";
import { webRuntime } from "./runtime";

/** Whose data a dashboard page shows. */
export interface DashboardView {
  session: Session;
  /** null: an admin who has not picked a tenant yet. */
  tenantId: string | null;
  tenantName: string;
  /** What links must carry to stay on this tenant ("" for a tenant session). */
  tenantQuery: string;
}

/**
 * The signed-in session and the tenant a page shows: a tenant session always its own tenant (whatever the URL says),
 * an admin the `?tenant=` of the URL. Without a session, to the sign-in page.
 */
export async function dashboardView(requested: string | string[] | undefined): Promise<DashboardView> {
  const session = await currentSession();
  if (!session) redirect("/signin");
  if (session.role === "tenant") {
    return { session, tenantId: session.tenantId, tenantName: session.tenantName, tenantQuery: "" };
  }
  const tenantId = typeof requested === "string" && requested !== "" ? requested : null;
  if (!tenantId) return { session, tenantId: null, tenantName: "", tenantQuery: "" };
  const tenant = await (await webRuntime()).refresca.tenants.get(tenantId);
  return {
    session,
    tenantId,
    tenantName: tenant?.name ?? tenantId,
    tenantQuery: `tenant=${encodeURIComponent(tenantId)}`,
  };
}

/** The tenants an admin may pick from (admins only). */
export async function tenantsForAdmin(session: Session) {
  if (session.role !== "admin") return [];
  return (await webRuntime()).refresca.tenants.list({ limit: 500 });
}

/** The channel types this instance refreshes, with their names: built-in platforms, presets and configured providers. */
export async function instancePlatforms() {
  return (await webRuntime()).refresca.platforms;
}
