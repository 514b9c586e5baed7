"use client";
import { StatusNote, type StatusMessage } from "./status-note";
import { useRouter } from "next/navigation";
import { useState, useTransition } from "react";
import { cancelRecurringTokenRefresh, scheduleRecurringTokenRefresh } from "@/app/actions/oauth-refresh";
import { utc } from "./format";

export interface ScheduleView {
  intervalMinutes: number;
  windowMinutes: number;
  nextRunAt: string | null;
}

/** The tenant's recurring refresh: shows it, sets its interval (replacing it), cancels it. */
export function RecurringSchedule({ tenantId, schedule }: { tenantId: string; schedule: ScheduleView | null }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [message, setMessage] = useState<StatusMessage | null>(null);

  const set = (form: FormData) =>
    startTransition(async () => {
      const answer = await scheduleRecurringTokenRefresh({ tenantId, intervalMinutes: Number(form.get("intervalMinutes")) });
      setMessage(
        answer.success
          ? { ok: true, text: `Every ${answer.intervalMinutes} min from now on; next run ${utc(answer.nextRunAt)}.` }
          : { ok: false, text: `${answer.error} (${answer.code})` },
      );
      router.refresh();
    });

  const cancel = () =>
    startTransition(async () => {
      const answer = await cancelRecurringTokenRefresh({ tenantId });
      setMessage(
        answer.success
          ? { ok: true, text: answer.cancelled ? "Recurring refresh cancelled." : "There was no recurring refresh." }
          : { ok: false, text: `${answer.error} (${answer.code})` },
      );
      router.refresh();
    });

  return (
    <div>
      {schedule ? (
        <p className="schedule-now" data-testid="recurring-current">
          Every <strong>{schedule.intervalMinutes} min</strong>, looking {schedule.windowMinutes} min ahead.
          <br />
          Next run: <strong>{schedule.nextRunAt ? utc(schedule.nextRunAt) : "when a worker picks it up"}</strong>
        </p>
      ) : (
        <p className="empty" data-testid="recurring-current">
          No recurring refresh. Tokens are still refreshed shortly before they expire, and on demand.
        </p>
      )}
      <form action={set} className="inline-form">
        <label>
          Every{" "}
          <input
            name="intervalMinutes"
            type="number"
            min={1}
            max={10080}
            defaultValue={schedule?.intervalMinutes ?? 120}
            required
            aria-label="Interval in minutes"
          />{" "}
          minutes
        </label>
        <button type="submit" className="button small" disabled={pending}>
          {schedule ? "Change" : "Set"}
        </button>
        {schedule && (
          <button type="button" className="button small danger" onClick={cancel} disabled={pending}>
            Cancel recurring refresh
          </button>
        )}
      </form>
      <StatusNote message={message} />
    </div>
  );
}
