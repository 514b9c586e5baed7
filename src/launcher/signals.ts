const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

// The listeners present when this module loads belong to the runtime, and must stay: none on plain Node (dist/cli.js,
// where the dependencies' imports run before this module and install none); under tsx, its hidden relay, which reports
// each signal to its parent process and is SIGKILLed by it when the report never comes.
const inherited = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));

/**
 * Removes the signal listeners libraries installed since start-up — the embedded PostgreSQL's exit hook (async-exit-hook,
 * installed by store/postgres-process.ts), which stops the
 * server and exits at once — so that a long-running command shuts down in its own order: jobs first, database last.
 */
export function dropLibrarySignalHooks(): void {
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!inherited.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
}
