"use client";
import { StatusNote, type StatusMessage } from "./status-note";
import { useRouter } from "next/navigation";
import { useState, useTransition } from "react";
import { refreshChannelToken } from "@/app/actions/oauth-refresh";
import { utc } from "./format";

/** "Refresh now" for one channel: calls the server action, shows its answer, re-renders the page. */
export function RefreshNow({ tenantId, channelId }: { tenantId: string; channelId: string }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [message, setMessage] = useState<StatusMessage | null>(null);

  const refresh = () =>
    startTransition(async () => {
      const answer = await refreshChannelToken({ tenantId, channelId });
      setMessage(
        answer.success
          ? { ok: true, text: `Refreshed: now expires ${utc(answer.newExpiresAt ?? null)}` }
          : { ok: false, text: `${answer.error} (${answer.code})` },
      );
      router.refresh();
    });

  return (
    <div className="row-action">
      <button type="button" className="button small" onClick={refresh} disabled={pending}>
        {pending ? "Refreshing…" : "Refresh now"}
      </button>
      <StatusNote message={message} as="span" />
    </div>
  );
}
