"use client";
import { StatusNote, type StatusMessage } from "./status-note";
import { useState, useTransition } from "react";
import { scheduleChannelTokenRefresh } from "@/app/actions/oauth-refresh";
import { utc } from "./format";

/** Schedules one refresh of a channel after a delay (scheduleChannelTokenRefresh). */
export function ScheduleLater({ tenantId, channelId }: { tenantId: string; channelId: string }) {
  const [pending, startTransition] = useTransition();
  const [message, setMessage] = useState<StatusMessage | null>(null);

  const submit = (form: FormData) =>
    startTransition(async () => {
      const delayMinutes = Number(form.get("delayMinutes"));
      const answer = await scheduleChannelTokenRefresh({ tenantId, channelId, delayMinutes });
      setMessage(
        answer.success
          ? { ok: true, text: `Scheduled for ${utc(answer.scheduledFor)}` }
          : { ok: false, text: `${answer.error} (${answer.code})` },
      );
    });

  return (
    <details className="later">
      <summary>Later…</summary>
      <form action={submit} className="inline-form">
        <label>
          in <input name="delayMinutes" type="number" min={0} max={43200} defaultValue={30} required aria-label="Delay in minutes" /> min
        </label>
        <button type="submit" className="button small secondary" disabled={pending}>
          {pending ? "Scheduling…" : "Schedule"}
        </button>
      </form>
      <StatusNote message={message} />
    </details>
  );
}
