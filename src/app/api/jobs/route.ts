import { tenantOperation } from "@/web/guard";

const STATUS_OF: Record<string, number> = { UNAUTHORIZED: 401, FORBIDDEN: 403, INVALID_INPUT: 400, NOT_FOUND: 404 };

/** GET /api/jobs?tenantId=… — the tenant's job figures for the dashboard's live panel, through the same wrapper. */
export async function GET(request: Request): Promise<Response> {
  const tenantId = new URL(request.url).searchParams.get("tenantId") ?? "";
  const answer = await tenantOperation("getTokenRefreshJobsStatus", { tenantId });
  const status = answer.success ? 200 : (STATUS_OF[answer.code] ?? 503);
  return Response.json(answer, { status, headers: { "cache-control": "no-store" } });
}
