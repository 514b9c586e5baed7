"use client";
import { useRouter } from "next/navigation";
import { useEffect, useRef, useState } from "react";

export interface JobCounts {
  jobsActive: number;
  jobsWaiting: number;
  jobsDelayed: number;
  jobsCompleted: number;
  jobsFailed: number;
}

const POLL_MS = 3000;
const LABELS: Array<[keyof JobCounts, string]> = [
  ["jobsActive", "Active"],
  ["jobsWaiting", "Waiting"],
  ["jobsDelayed", "Delayed"],
  ["jobsCompleted", "Completed"],
  ["jobsFailed", "Failed"],
];

/**
 * The tenant's refresh jobs, polled every 3 s from /api/jobs (a route handler, so polls never queue behind a long
 * server action). When a job finishes, the page's server components re-render to show the new expiries.
 */
export function JobStatus({ tenantId, initial }: { tenantId: string; initial: JobCounts | null }) {
  const router = useRouter();
  const [counts, setCounts] = useState<JobCounts | null>(initial);
  const [error, setError] = useState<string | null>(null);
  const [updatedAt, setUpdatedAt] = useState<string | null>(null);
  const finished = useRef(initial ? initial.jobsCompleted + initial.jobsFailed : 0);

  useEffect(() => {
    let stopped = false;
    const poll = async () => {
      try {
        const response = await fetch(`/api/jobs?tenantId=${encodeURIComponent(tenantId)}`, { cache: "no-store" });
        const answer = (await response.json()) as ({ success: true } & JobCounts) | { success: false; error: string };
        if (stopped) return;
        if (!answer.success) {
          setError(answer.error);
          return;
        }
        setError(null);
        setCounts(answer);
        setUpdatedAt(new Date().toISOString().slice(11, 19));
        const done = answer.jobsCompleted + answer.jobsFailed;
        if (done !== finished.current) {
          finished.current = done;
          router.refresh();
        }
      } catch {
        if (!stopped) setError("The server did not answer; retrying.");
      }
    };
    const timer = setInterval(poll, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [tenantId, router]);

  return (
    <div>
      {counts ? (
        <dl className="jobs" data-testid="job-status">
          {LABELS.map(([key, label]) => (
            <div key={key} className={`job ${key === "jobsFailed" && counts[key] > 0 ? "bad" : ""}`}>
              <dt>{label}</dt>
              <dd>{counts[key]}</dd>
            </div>
          ))}
        </dl>
      ) : (
        <p className="empty">Job figures are not available yet.</p>
      )}
      <p className="muted small">
        <span className="live-dot" aria-hidden /> Live, every {POLL_MS / 1000} s{updatedAt && ` · updated ${updatedAt} UTC`}
      </p>
      {error && (
        <p role="alert" className="note error">
          {error}
        </p>
      )}
    </div>
  );
}
