import type { Fault } from "./faults";
import type { SimulatorConfig, SimulatorConfigPatch } from "./options";
import { statsFrom, type IssueInput, type IssuedTokenSet, type SimulatorState, type SimulatorStats } from "./state";

/** Drives a simulator, in this process or (through `/_sim/`) in another one. */
export interface SimulatorControl {
  /** Mints a valid token set (`POST /_sim/tokens`). */
  issue(input: IssueInput): Promise<IssuedTokenSet>;
  /** Every token string minted since start or the last reset (`GET /_sim/tokens`). */
  issuedTokens(): Promise<string[]>;
  /** Call counters (`GET /_sim/stats`). */
  stats(): Promise<SimulatorStats>;
  /** Makes the next calls fail (`POST /_sim/faults`). */
  inject(fault: Fault): Promise<void>;
  /** Revokes a token, and for TikTok its whole family; answers how many tokens stopped working (`POST /_sim/revoke`). */
  revoke(token: string): Promise<number>;
  /** Changes latency, lifetimes or app credentials while running (`POST /_sim/config`). */
  configure(patch: SimulatorConfigPatch): Promise<SimulatorConfig>;
  /** The current configuration (`GET /_sim/config`). */
  config(): Promise<SimulatorConfig>;
  /** Forgets tokens, counters and faults; restores the starting configuration (`POST /_sim/reset`). */
  reset(): Promise<void>;
}

/** Control of a simulator running in this process. */
export function localControl(state: SimulatorState): SimulatorControl {
  return {
    issue: async (input) => state.issue(input),
    issuedTokens: async () => state.issuedTokens(),
    stats: async () => state.stats(),
    inject: async (fault) => state.faults.add(fault),
    revoke: async (token) => state.revoke(token),
    configure: async (patch) => (state.configure(patch), state.config),
    config: async () => state.config,
    reset: async () => state.reset(),
  };
}

/** Control of a simulator running elsewhere, through its admin API. */
export function connectSimulator(url: string): SimulatorControl {
  const base = url.replace(/\/+$/, "");
  async function call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${base}/_sim/${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = (await response.json()) as T & { error?: string };
    if (!response.ok) throw new Error(`simulator ${method} /_sim/${path}: ${answer.error ?? response.status}`);
    return answer;
  }
  return {
    issue: (input) => call("POST", "tokens", input),
    issuedTokens: async () => (await call<{ tokens: string[] }>("GET", "tokens")).tokens,
    stats: async () => statsFrom(await call("GET", "stats")),
    inject: async (fault) => void (await call("POST", "faults", fault)),
    revoke: async (token) => (await call<{ revoked: number }>("POST", "revoke", { token })).revoked,
    configure: (patch) => call("POST", "config", patch),
    config: () => call("GET", "config"),
    reset: async () => void (await call("POST", "reset", {})),
  };
}
