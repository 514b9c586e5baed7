import type { OAuth2ProviderInput } from "./config";

// Platforms that are plain OAuth 2.0 refreshes, shipped as configurations of the generic provider. The entry points
// enable one when both its variables are set; the library takes one through `oauth2Preset`. Sources are cited beside
// each fact; "DESIGN.md §2, unconfirmed" marks what the documentation found did not show.

const DAY = 86_400;

export const OAUTH2_PRESETS = [
  {
    // Google: the refresh_token grant with client_id and client_secret in the body (Google's OAuth 2.0 overview,
    // https://developers.google.com/identity/protocols, "refresh the access token"). The token URL
    // oauth2.googleapis.com/token, no new refresh token in the answer, and access tokens of about an hour: DESIGN.md
    // §2, unconfirmed (the answer's expires_in decides; "false" still stores a refresh token that does come back).
    id: "youtube",
    displayName: "YouTube",
    tokenUrl: "https://oauth2.googleapis.com/token",
    clientAuth: "client_secret_post",
    clientIdEnv: "YOUTUBE_CLIENT_ID",
    clientSecretEnv: "YOUTUBE_CLIENT_SECRET",
    rotatesRefreshToken: false,
    defaultLifetimeSeconds: 3600,
    leadSeconds: 600,
  },
  {
    // LinkedIn programmatic refresh tokens: access tokens 60 days, refresh tokens 365 days counted from the first
    // authorization and not extended by refreshing
    // (https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens). POST
    // www.linkedin.com/oauth/v2/accessToken with the client credentials in the body; whether the same refresh token
    // comes back: DESIGN.md §2 ("may return the same"), hence "detect".
    id: "linkedin",
    displayName: "LinkedIn",
    tokenUrl: "https://www.linkedin.com/oauth/v2/accessToken",
    clientAuth: "client_secret_post",
    clientIdEnv: "LINKEDIN_CLIENT_ID",
    clientSecretEnv: "LINKEDIN_CLIENT_SECRET",
    rotatesRefreshToken: "detect",
    defaultLifetimeSeconds: 60 * DAY,
    leadSeconds: 7 * DAY,
  },
  {
    // X: POST api.x.com/2/oauth2/token, Basic authentication for confidential clients; access tokens live two hours;
    // a refresh token only with the offline.access scope
    // (https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code and …/user-access-token).
    // Rotation: DESIGN.md §2 ("rotates"), unconfirmed, hence "detect" (a returned refresh token is always stored).
    // Its id is "twitter": ids have at least two characters.
    id: "twitter",
    displayName: "X",
    tokenUrl: "https://api.x.com/2/oauth2/token",
    clientAuth: "client_secret_basic",
    clientIdEnv: "X_CLIENT_ID",
    clientSecretEnv: "X_CLIENT_SECRET",
    rotatesRefreshToken: "detect",
    defaultLifetimeSeconds: 7200,
    leadSeconds: 900,
  },
  {
    // Pinterest v5: POST api.pinterest.com/v5/oauth/token with Basic authentication, grant refresh_token, continuous
    // refresh becoming the default (the OAuth API of pinterest/pinterest-python-generated-api-client, docs/OauthApi.md;
    // https://developers.pinterest.com/docs/getting-started/set-up-authentication-and-authorization/). That continuous
    // refresh answers a new refresh token, and 30-day access tokens: DESIGN.md §2, unconfirmed.
    id: "pinterest",
    displayName: "Pinterest",
    tokenUrl: "https://api.pinterest.com/v5/oauth/token",
    clientAuth: "client_secret_basic",
    clientIdEnv: "PINTEREST_CLIENT_ID",
    clientSecretEnv: "PINTEREST_CLIENT_SECRET",
    rotatesRefreshToken: "detect",
    defaultLifetimeSeconds: 30 * DAY,
    leadSeconds: 3 * DAY,
  },
] as const satisfies readonly OAuth2ProviderInput[];

export type OAuth2PresetId = (typeof OAUTH2_PRESETS)[number]["id"];

/** A preset as an entry of createRefresca's `providers` option, with its app credentials (and any field changed). */
export function oauth2Preset(
  id: OAuth2PresetId,
  app: { clientId: string; clientSecret: string },
  overrides: Partial<Omit<OAuth2ProviderInput, "id">> = {},
): OAuth2ProviderInput {
  const preset = OAUTH2_PRESETS.find((candidate) => candidate.id === id);
  if (!preset) throw new Error(`No OAuth 2.0 preset "${id}".`);
  return { ...preset, ...overrides, ...app, id };
}
