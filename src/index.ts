export { createRefresca, type Refresca, type RefrescaOptions } from "./refresca";
export type { RefreshResult, TokenExpirationInfo, TokenSet, Credentials, Platform, ChannelStatus } from "./core/types";
export { PLATFORMS } from "./core/types";
export { RefreshError, ERROR_MESSAGES, type ErrorCode, type Failure } from "./core/errors";
export type { ChannelView } from "./core/channels";
export type { ChannelInput } from "./core/validation";
export type { AccessTokenAnswer, TokenReader } from "./core/token-access";
export type { TokenReadView } from "./core/audit/operations";
