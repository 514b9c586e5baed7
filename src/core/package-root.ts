import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/**
 * The folder holding Refresca's package.json, found from this module whether it runs from src/ or bundled into
 * dist/cli.js. The name is checked because other package.json files sit in between (Next writes one in .next/).
 */
export function packageRoot(): string {
  if (root) return root;
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "refresca") {
      return (root = dir);
    }
    if (path.dirname(dir) === dir) throw new Error(`Refresca's package.json was not found above ${start}`);
  }
}
