"use client";
import { useRouter } from "next/navigation";
import { useState, useTransition } from "react";
import { createApiKey } from "@/app/actions/api-keys";
import { API_SCOPES, DEFAULT_API_SCOPES, type ApiScope } from "@/core/access/scopes";
import { StatusNote, type StatusMessage } from "./status-note";

const SCOPE_HINTS: Record<ApiScope, string> = {
  "channels:read": "read channels",
  "channels:write": "add, change and remove channels",
  refresh: "refresh and schedule refreshes",
  "tokens:read": "read access tokens: only for a backend that calls the platforms itself",
  "webhooks:write": "manage webhooks",
};

/**
 * Makes a REST API key (createApiKey) and shows it once. `targets` lists what an admin may limit the key to
 * ("*" = every tenant); a tenant session has one target, its own tenant.
 */
export function ApiKeyCreate({ targets, initialTarget }: { targets: Array<{ value: string; label: string }>; initialTarget: string }) {
  const router = useRouter();
  const [pending, startTransition] = useTransition();
  const [message, setMessage] = useState<StatusMessage | null>(null);
  const [created, setCreated] = useState<{ id: string; apiKey: string } | null>(null);

  const submit = (form: FormData) =>
    startTransition(async () => {
      const answer = await createApiKey({
        tenantId: String(form.get("tenantId") ?? initialTarget),
        name: String(form.get("name") ?? ""),
        scopes: form.getAll("scopes").map(String) as ApiScope[], // checked by the operation
      });
      if (answer.success) {
        setCreated({ id: answer.key.id, apiKey: answer.apiKey });
        setMessage(null);
        router.refresh();
      } else {
        setCreated(null);
        setMessage({ ok: false, text: `${answer.error} (${answer.code})` });
      }
    });

  return (
    <div>
      <form action={submit}>
        <div className="inline-form">
          <input name="name" required maxLength={200} placeholder="Name, e.g. Backend" aria-label="Key name" />
          {targets.length > 1 ? (
            <select name="tenantId" defaultValue={initialTarget} aria-label="Valid for">
              {targets.map((target) => (
                <option key={target.value} value={target.value}>
                  {target.label}
                </option>
              ))}
            </select>
          ) : (
            <input type="hidden" name="tenantId" value={initialTarget} />
          )}
        </div>
        <div className="inline-form" role="group" aria-label="Scopes">
          <span className="sub">Scopes</span>
          {API_SCOPES.map((scope) => (
            <label key={scope} title={SCOPE_HINTS[scope]}>
              <input type="checkbox" name="scopes" value={scope} defaultChecked={DEFAULT_API_SCOPES.includes(scope)} /> <code>{scope}</code>
            </label>
          ))}
        </div>
        <p className="sub">
          <code>tokens:read</code> lets the key read access tokens: grant it only to a backend that calls the platforms itself.
        </p>
        <button type="submit" className="button small" disabled={pending}>
          {pending ? "Creating…" : "Create key"}
        </button>
      </form>
      {created && (
        <div role="status" className="note ok" data-testid="new-api-key">
          <p>
            Key <code>{created.id}</code> created. Copy it now: it will not be shown again (only its hash is stored).
          </p>
          <code data-testid="new-api-key-value">{created.apiKey}</code>
        </div>
      )}
      <StatusNote message={message} />
    </div>
  );
}
