/** The outcome of a dashboard action, as the three action forms show it. */
export interface StatusMessage {
  ok: boolean;
  text: string;
}

/** Announces an action's outcome to screen readers too (role="status"); nothing when there is none yet. */
export function StatusNote({ message, as: Tag = "p" }: { message: StatusMessage | null; as?: "p" | "span" }) {
  if (!message) return null;
  return (
    <Tag role="status" className={message.ok ? "note ok" : "note error"}>
      {message.text}
    </Tag>
  );
}
