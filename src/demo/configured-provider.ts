import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { OAuth2ProviderInput } from "../core/providers/oauth2";
import type { ChannelInput } from "../core/validation";
import type { OAuth2SimOptions, Simulator } from "../simulator";

// A platform the demo adds by configuration, as a product adds one Refresca does not ship: a providers file
// (REFRESCA_PROVIDERS_FILE) naming the simulator's generic OAuth 2.0 token endpoint, with rotating refresh tokens.

const ID = "acme";
const CLIENT = { clientId: "demo-acme-client", clientSecret: "demo-acme-secret" };
const ENV = { id: "DEMO_ACME_CLIENT_ID", secret: "DEMO_ACME_CLIENT_SECRET" };

/** The simulator's side: a generic OAuth 2.0 provider whose access tokens live an hour. */
export const DEMO_PROVIDER_SIMULATION: OAuth2SimOptions = { [ID]: { ...CLIENT, rotate: true, accessLifetimeSeconds: 3600 } };

/** Refresca's side, as a providers file entry: credentials from variables, never in the file. */
function entry(simulator: Simulator): OAuth2ProviderInput {
  return {
    id: ID,
    displayName: "Acme Social (configured)",
    tokenUrl: simulator.oauth2.tokenUrl(ID),
    clientAuth: "client_secret_basic",
    clientIdEnv: ENV.id,
    clientSecretEnv: ENV.secret,
    rotatesRefreshToken: true,
    leadSeconds: 600,
  };
}

/**
 * Writes the demo's providers file into the data folder. Answers the provider for the demo's own Refresca (with its
 * credentials) and the variables the web process reads it from, as any deployment would.
 */
export async function demoProvidersFile(dataDir: string, simulator: Simulator) {
  await mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, "demo-providers.json");
  await writeFile(file, `${JSON.stringify({ providers: [entry(simulator)] }, null, 2)}\n`, { mode: 0o600 });
  return {
    provider: { ...entry(simulator), ...CLIENT },
    env: { REFRESCA_PROVIDERS_FILE: file, [ENV.id]: CLIENT.clientId, [ENV.secret]: CLIENT.clientSecret },
  };
}

/** The demo tenant's channel of the configured platform, with tokens minted at the simulator. */
export function demoConfiguredChannel(simulator: Simulator, tenantId: string): ChannelInput {
  const tokens = simulator.oauth2.issue(ID, { accessExpiresInSeconds: 25 * 60 });
  return {
    tenantId,
    id: "acme-community",
    type: ID,
    displayName: "Acme Social · Community",
    localName: "@demo.community",
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt: tokens.expiresAt,
  };
}
