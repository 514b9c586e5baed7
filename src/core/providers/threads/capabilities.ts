import { DAY_MS, endpoint, platformCapabilities } from "../capabilities";

// Facts from Meta's Threads documentation, "Long-Lived Access Tokens"
// (https://developers.facebook.com/docs/threads/get-started/long-lived-tokens/): long-lived tokens live 60 days and
// can be refreshed once at least 24 hours old and unexpired, with `GET graph.threads.net/refresh_access_token?
// grant_type=th_refresh_token&access_token=<long-lived token>` (no app secret); the answer is `{access_token,
// token_type: "bearer", expires_in}`; "refreshing a long-lived token makes it valid for 60 days again".

/** The Threads API's host. Meta serves it as graph.threads.net (and graph.threads.com, per the Threads overview). */
export const THREADS_GRAPH = endpoint({
  option: "threadsGraphUrl",
  env: "THREADS_GRAPH_URL",
  defaultValue: "https://graph.threads.net",
  format: "url",
  description: "Threads API base URL",
});

export const threadsCapabilities = platformCapabilities({
  id: "threads",
  displayName: "Threads",
  brandColor: "#555",
  // A new long-lived token comes back each time. That the one sent keeps working until its own expiry (so a crash
  // after the answer loses nothing): DESIGN.md §2, unconfirmed — as with Instagram.
  rotatesRefreshToken: false,
  // The documentation says every refresh gives 60 days again, unlike Meta's exchange past a token's first 60 days.
  // Should an answer not extend after all, the token it brought is refused for a day by the 24-hour rule (TOO_EARLY,
  // retried an hour later): no tight loop.
  mayNotExtend: false,
  refreshesWith: "accessToken",
  // 60-day tokens: a week ahead leaves time to reconnect a channel whose refresh keeps failing.
  expiryLeadMs: 7 * DAY_MS,
  // Threads refuses to refresh a token younger than 24 hours.
  minTokenAgeMs: DAY_MS,
  // A Meta app with the Threads use case has its own Threads app id and secret ("use the Threads app ID and its
  // corresponding app secret", https://developers.facebook.com/documentation/threads/get-started). Refreshing needs
  // neither: the long-lived token alone is sent. The variables are only named, for messages.
  app: { id: "threads", env: ["THREADS_APP_ID", "THREADS_APP_SECRET"], neededToRefresh: false },
  endpoints: [THREADS_GRAPH],
});
