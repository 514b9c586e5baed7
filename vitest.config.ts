import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests share the machine's PostgreSQL and Redis; each file isolates itself with its own schema and key prefix.
    fileParallelism: true,
    maxWorkers: 2,
    globalSetup: ["test/global-setup.ts"],
  },
});
