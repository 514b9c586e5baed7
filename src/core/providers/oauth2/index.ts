import type { PlatformCapabilities } from "../capabilities";
import type { PlatformModule } from "../types";
import type { OAuth2ProviderConfig } from "./config";
import { createOAuth2Provider } from "./refresh";

export * from "./config";
export { OAUTH2_PRESETS, oauth2Preset, type OAuth2PresetId } from "./presets";
export { basicAuthorization, formEncode } from "./refresh";

/** The capabilities of a configured OAuth 2.0 provider. */
export function oauth2Capabilities(config: OAuth2ProviderConfig): PlatformCapabilities {
  return {
    id: config.id,
    displayName: config.displayName ?? config.id,
    rotatesRefreshToken: config.rotatesRefreshToken,
    mayNotExtend: false,
    refreshesWith: "refreshToken",
    expiryLeadMs: config.leadSeconds * 1000,
    app: {
      id: config.id,
      env: [config.clientIdEnv, config.clientSecretEnv].filter((name): name is string => name !== undefined),
      neededToRefresh: true,
    },
  };
}

/** A platform module for one configured OAuth 2.0 provider (RFC 6749 §6 refresh). */
export function oauth2Module(config: OAuth2ProviderConfig): PlatformModule {
  const capabilities = oauth2Capabilities(config);
  return {
    capabilities,
    create(options) {
      const provider = createOAuth2Provider(options, config, capabilities);
      return () => provider;
    },
    hasAppCredentials: () => config.clientId !== undefined && config.clientSecret !== undefined,
  };
}
