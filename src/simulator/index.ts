export { startSimulator, type Simulator } from "./server";
export { connectSimulator, type OAuth2RemoteControl, type SimulatorControl } from "./control";
export type { Fault, FaultKind } from "./faults";
export type { IssueInput, IssuedTokenSet, SimulatorStats } from "./state";
export {
  SIM_META_APP_ID,
  SIM_META_APP_SECRET,
  SIM_PLATFORMS,
  SIM_TIKTOK_CLIENT_KEY,
  SIM_TIKTOK_CLIENT_SECRET,
  type InstagramSimOptions,
  type LatencyOption,
  type MetaSimOptions,
  type SimPlatform,
  type SimulatorConfig,
  type SimulatorConfigPatch,
  type SimulatorOptions,
  type ThreadsSimOptions,
  type TikTokSimOptions,
} from "./options";
export type { OAuth2Fault, OAuth2SimControl, OAuth2SimOptions, OAuth2SimProvider, OAuth2SimProviderView, OAuth2SimStats } from "./oauth2";
export { refrescaEnvFor, refrescaSettingsFor, simulatorUrlEnv } from "./refresca-settings";
