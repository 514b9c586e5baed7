"use client";
import { useRouter } from "next/navigation";
import { useState, useTransition } from "react";
import { addWebhook, redeliverWebhook, removeWebhook, sendTestWebhook, setWebhookEnabled } from "@/app/actions/webhooks";
import { WEBHOOK_EVENT_TYPES } from "@/core/webhooks/settings";
import { StatusNote, type StatusMessage } from "./status-note";

type Answer = { success: true } | { success: false; error: string; code: string };
const note = (answer: Answer, ok: string): StatusMessage => (answer.success ? { ok: true, text: ok } : { ok: false, text: `${answer.error} (${answer.code})` });

/** Adds an endpoint (addWebhook) and shows its signing secret once. */
export function WebhookAdd({ tenantId }: { tenantId: string }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [message, setMessage] = useState<StatusMessage | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const submit = (form: FormData) =>
    startTransition(async () => {
      const answer = await addWebhook({ tenantId, url: String(form.get("url") ?? ""), events: form.getAll("events").map(String) });
      setSecret(answer.success ? answer.secret : null);
      setMessage(answer.success ? null : note(answer, ""));
      if (answer.success) router.refresh();
    });
  return (
    <div>
      <form action={submit}>
        <input name="url" type="url" required placeholder="https://example.com/webhooks/refresca" aria-label="URL" size={48} />{" "}
        {WEBHOOK_EVENT_TYPES.map((type) => (
          <label key={type} className="sub">
            <input type="checkbox" name="events" value={type} /> {type}{" "}
          </label>
        ))}
        <button type="submit" className="button small" disabled={pending}>
          {pending ? "Adding…" : "Add endpoint"}
        </button>
        <p className="sub">No event ticked: every event but channel.refreshed.</p>
      </form>
      {secret && (
        <p data-testid="webhook-secret">
          Signing secret, shown only this once: <code>{secret}</code>
        </p>
      )}
      <StatusNote message={message} />
    </div>
  );
}

/** Per endpoint: send a test event, enable or disable, remove (after a second click). */
export function WebhookActions({ tenantId, endpointId, enabled }: { tenantId: string; endpointId: string; enabled: boolean }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [message, setMessage] = useState<StatusMessage | null>(null);
  const act = (work: () => Promise<Answer>, ok: string) =>
    startTransition(async () => {
      setMessage(note(await work(), ok));
      router.refresh();
    });
  const ref = { tenantId, endpointId };
  return (
    <div className="actions">
      <button type="button" className="button small" disabled={pending || !enabled} onClick={() => act(() => sendTestWebhook(ref), "Test event queued.")}>
        Send test event
      </button>{" "}
      <button type="button" className="button small" disabled={pending} onClick={() => act(() => setWebhookEnabled({ ...ref, enabled: !enabled }), enabled ? "Disabled." : "Enabled.")}>
        {enabled ? "Disable" : "Enable"}
      </button>{" "}
      <details className="later">
        <summary>Remove…</summary>
        <button type="button" className="button small danger" disabled={pending} onClick={() => act(() => removeWebhook(ref), "Removed.")}>
          Remove endpoint
        </button>
      </details>
      <StatusNote message={message} />
    </div>
  );
}

/** Attempts one delivery again now, with the same webhook-id. */
export function WebhookRedeliver({ tenantId, endpointId, deliveryId }: { tenantId: string; endpointId: string; deliveryId: string }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [message, setMessage] = useState<StatusMessage | null>(null);
  const redeliver = () =>
    startTransition(async () => {
      setMessage(note(await redeliverWebhook({ tenantId, endpointId, deliveryId }), "Queued."));
      router.refresh();
    });
  return (
    <>
      <button type="button" className="button small" onClick={redeliver} disabled={pending}>
        Redeliver
      </button>
      <StatusNote message={message} />
    </>
  );
}
