import type { CSSProperties } from "react";
import { platformHue } from "./format";

/** A channel type with its coloured dot (its brand colour, else a steady hue from its id) and the name people read. */
export function PlatformBadge({ id, label, color }: { id: string; label: string; color?: string | undefined }) {
  const style = { "--platform-dot": color ?? `hsl(${platformHue(id)} 55% 45%)` } as CSSProperties;
  return (
    <span className={`platform ${id}`} style={style} data-platform={id}>
      {label}
    </span>
  );
}
