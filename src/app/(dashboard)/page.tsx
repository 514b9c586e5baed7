import { EventsTable } from "@/app/_ui/events-table";
import { ExpiryChart } from "@/app/_ui/expiry-chart";
import { JobStatus } from "@/app/_ui/job-status";
import { PlatformBreakdown } from "@/app/_ui/platform-breakdown";
import { RecurringSchedule } from "@/app/_ui/recurring-schedule";
import { RefreshAll } from "@/app/_ui/refresh-all";
import { StatisticsCards } from "@/app/_ui/statistics";
import { Failed, TenantPicker } from "@/app/_ui/tenant-picker";
import { tenantOperation, withTenant } from "@/web/guard";
import { dashboardView, tenantsForAdmin } from "@/web/view";

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

export default async function OverviewPage({ searchParams }: { searchParams: SearchParams }) {
  const view = await dashboardView((await searchParams).tenant);
  if (!view.tenantId) return <TenantPicker tenants={await tenantsForAdmin(view.session)} />;
  const tenantId = view.tenantId;
  const input = { tenantId };
  const [statistics, horizon, platforms, schedule, jobs, events] = await Promise.all([
    tenantOperation("getRefreshStatistics", input),
    withTenant("dashboard.expiryHorizon", input, (refresca) => refresca.dashboard.expiryHorizon(input)),
    withTenant("dashboard.platformBreakdown", input, (refresca) => refresca.dashboard.platformBreakdown(input)),
    withTenant("getRecurringTokenRefresh", input, (refresca) => refresca.getRecurringTokenRefresh(input)),
    tenantOperation("getTokenRefreshJobsStatus", input),
    withTenant("dashboard.recentEvents", input, (refresca) => refresca.dashboard.recentEvents({ tenantId, limit: 15 })),
  ]);

  return (
    <>
      <div className="page-head">
        <h1>{view.tenantName}</h1>
        <p className="muted">
          Tenant <code>{tenantId}</code>
        </p>
      </div>

      {statistics.success ? <StatisticsCards statistics={statistics.statistics} /> : <Failed answer={statistics} />}

      <div className="grid two">
        <section className="card">
          <h2>Tokens expiring</h2>
          {horizon.success && statistics.success ? (
            <ExpiryChart horizon={horizon.horizon} total={statistics.statistics.totalChannels} />
          ) : !horizon.success ? (
            <Failed answer={horizon} />
          ) : null}
        </section>
        <section className="card">
          <h2>Refresh jobs</h2>
          <JobStatus
            tenantId={tenantId}
            initial={
              jobs.success
                ? {
                    jobsActive: jobs.jobsActive,
                    jobsWaiting: jobs.jobsWaiting,
                    jobsDelayed: jobs.jobsDelayed,
                    jobsCompleted: jobs.jobsCompleted,
                    jobsFailed: jobs.jobsFailed,
                  }
                : null
            }
          />
          {!jobs.success && <Failed answer={jobs} />}
        </section>
      </div>

      <section className="card">
        <h2>Platforms</h2>
        {platforms.success ? <PlatformBreakdown platforms={platforms.platforms} tenantQuery={view.tenantQuery} /> : <Failed answer={platforms} />}
      </section>

      <div className="grid two">
        <section className="card">
          <h2>Refresh now</h2>
          <p className="muted">Refreshes every channel that expires within 60 minutes (or has expired), through its platform.</p>
          <RefreshAll tenantId={tenantId} />
        </section>
        <section className="card">
          <h2>Recurring refresh</h2>
          {schedule.success ? <RecurringSchedule tenantId={tenantId} schedule={schedule.schedule} /> : <Failed answer={schedule} />}
        </section>
      </div>

      <section className="card">
        <h2>Recent refresh events</h2>
        {events.success ? <EventsTable events={events.events} /> : <Failed answer={events} />}
      </section>
    </>
  );
}
