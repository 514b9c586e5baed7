import type { CSSProperties } from "react";
import { platformHue } from "./format";

/** A channel type with its coloured dot and the name people read. */
export function PlatformBadge({ id, label }: { id: string; label: string }) {
  const style = { "--platform-dot": `hsl(${platformHue(id)} 55% 45%)` } as CSSProperties;
  return (
    <span className={`platform ${id}`} style={style} data-platform={id}>
      {label}
    </span>
  );
}
