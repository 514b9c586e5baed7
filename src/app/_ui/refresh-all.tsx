"use client";
import { useRouter } from "next/navigation";
import { useState, useTransition } from "react";
import { refreshMultipleChannelTokens } from "@/app/actions/oauth-refresh";
import { utc } from "./format";

type Answer = Awaited<ReturnType<typeof refreshMultipleChannelTokens>>;

/** "Refresh all that need it": every channel expiring within 60 minutes, with each one's result. */
export function RefreshAll({ tenantId }: { tenantId: string }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [answer, setAnswer] = useState<Answer | null>(null);

  const run = () =>
    startTransition(async () => {
      setAnswer(await refreshMultipleChannelTokens({ tenantId }));
      router.refresh();
    });

  return (
    <div>
      <button type="button" className="button" onClick={run} disabled={pending}>
        {pending ? "Refreshing…" : "Refresh all that need it"}
      </button>
      {answer && !answer.success && (
        <p role="alert" className="note error">
          {answer.error} ({answer.code})
        </p>
      )}
      {answer?.success && (
        <div role="status" className="batch-result">
          {answer.processed === 0 ? (
            <p className="note">Nothing needs a refresh right now.</p>
          ) : (
            <>
              <p className="note">
                <strong>
                  {answer.succeeded}/{answer.processed}
                </strong>{" "}
                refreshed{answer.failed > 0 && `, ${answer.failed} failed`}.
              </p>
              <ul className="result-list">
                {answer.results.map((result) => (
                  <li key={result.channelId} className={result.success ? "ok" : "error"}>
                    <code>{result.channelId}</code>{" "}
                    {result.success ? `expires ${utc(result.newExpiresAt ?? null)}` : <span title={result.error}>{result.code}: {result.error}</span>}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
    </div>
  );
}
