import type { RefrescaConfig } from "../config";
import type { Logger } from "../core/logger";
import { createRefresca } from "../refresca";
import {
  SIM_META_APP_ID,
  SIM_META_APP_SECRET,
  SIM_TIKTOK_CLIENT_KEY,
  SIM_TIKTOK_CLIENT_SECRET,
  startSimulator,
} from "../simulator";
import { demoChannels } from "./seed";

const TENANT = "demo";

/** The command-line demo: the specification's complete example, run against the simulator on the embedded default. */
export async function runDemo(config: RefrescaConfig, logger: Logger): Promise<void> {
  const simulator = await startSimulator({ port: 0, latencyMs: 80 });
  const refresca = await createRefresca({
    logger,
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    redisUrl: config.redisUrl,
    endpoints: { metaGraphUrl: simulator.url, instagramGraphUrl: simulator.url, tiktokApiUrl: simulator.url },
    apps: {
      meta: { appId: SIM_META_APP_ID, appSecret: SIM_META_APP_SECRET },
      tiktok: { clientKey: SIM_TIKTOK_CLIENT_KEY, clientSecret: SIM_TIKTOK_CLIENT_SECRET },
    },
  });
  try {
    console.log(`Platform simulator on ${simulator.url}; database ${config.databaseUrl ? "from DATABASE_URL" : `embedded in ${config.dataDir}`}.`);
    for (const channel of await demoChannels(simulator, TENANT)) {
      const saved = await refresca.channels.upsert(channel);
      if (!saved.success) throw new Error(`Seeding ${channel.id} failed: ${saved.error}`);
    }
    console.log(`\n1. Seeded tenant "${TENANT}" with 9 channels (tokens stored encrypted).`);

    const before = await refresca.getRefreshStatistics({ tenantId: TENANT });
    if (before.success) console.log("\n2. Statistics:", before.statistics);

    const due = await refresca.getChannelsNeedingTokenRefresh({ tenantId: TENANT, refreshBeforeMinutes: 60 });
    if (due.success) {
      console.log("\n3. Channels expiring within 60 minutes:");
      for (const channel of due.channels) {
        console.log(`   ${channel.displayName.padEnd(26)} expires in ${String(channel.minutesUntilExpiration).padStart(4)} min`);
      }
    }

    const batch = await refresca.refreshMultipleChannelTokens({ tenantId: TENANT });
    if (batch.success) {
      console.log(`\n4. Refreshed ${batch.succeeded}/${batch.processed} channels through the platforms' APIs:`);
      for (const result of batch.results) {
        console.log(`   ${result.channelId.padEnd(18)} ${result.success ? `ok, now expires ${result.newExpiresAt}` : `${result.code}: ${result.error}`}`);
      }
    }

    const one = await refresca.refreshChannelToken({ tenantId: TENANT, channelId: "facebook-ads" });
    console.log("\n5. Manual refresh of facebook-ads:", one);

    const after = await refresca.getRefreshStatistics({ tenantId: TENANT });
    if (after.success) console.log("\n6. Statistics now:", after.statistics);
    const stats = await simulator.stats();
    console.log(`\nThe simulator answered ${stats.totalCalls} refresh call(s). List the channels with: npx refresca channels list --tenant ${TENANT}`);
  } finally {
    await refresca.close();
    await simulator.close();
  }
}
