"use client";
import { useRouter } from "next/navigation";
import { useState, useTransition } from "react";
import { revokeApiKey } from "@/app/actions/api-keys";
import { StatusNote, type StatusMessage } from "./status-note";

/** Revokes one REST API key (revokeApiKey), after a second click. `tenantId` is the page's scope ("*" for admins). */
export function ApiKeyRevoke({ tenantId, id, name }: { tenantId: string; id: string; name: string }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [message, setMessage] = useState<StatusMessage | null>(null);

  const revoke = () =>
    startTransition(async () => {
      const answer = await revokeApiKey({ tenantId, id });
      setMessage(answer.success ? { ok: true, text: "Revoked." } : { ok: false, text: `${answer.error} (${answer.code})` });
      router.refresh();
    });

  return (
    <details className="later">
      <summary>Revoke…</summary>
      <p className="sub">Requests with “{name}” are refused at once.</p>
      <button type="button" className="button small danger" onClick={revoke} disabled={pending}>
        {pending ? "Revoking…" : "Revoke key"}
      </button>
      <StatusNote message={message} />
    </details>
  );
}
