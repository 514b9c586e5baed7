CREATE TABLE "platform_throttles" (
	"platform" text PRIMARY KEY NOT NULL,
	"not_before" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "channels" ADD COLUMN "next_refresh_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "channels" ADD COLUMN "not_before" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "channels" ADD COLUMN "failing_since" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "channels_next_refresh_idx" ON "channels" USING btree ("next_refresh_at") WHERE next_refresh_at is not null;--> statement-breakpoint
CREATE INDEX "channels_unplanned_idx" ON "channels" USING btree ("expires_at") WHERE next_refresh_at is null and status = 'active' and expires_at is not null and has_refresh_token;--> statement-breakpoint
-- Backfill the plan of every channel that is kept alive: shortly before its token expires, as the default lead times
-- say (TikTok 10 minutes, Meta's platforms 7 days, never more than a quarter of the time left), and now for tokens
-- that expired or whose plan would lie in the past. Until this migration the plan lived in Redis as delayed jobs.
UPDATE "channels"
   SET "next_refresh_at" = greatest(
         now(),
         "expires_at" - least(
           CASE WHEN "type" = 'tiktok' THEN interval '10 minutes' ELSE interval '7 days' END,
           greatest("expires_at" - now(), interval '0') / 4))
 WHERE "status" = 'active' AND "expires_at" IS NOT NULL AND "has_refresh_token";--> statement-breakpoint
UPDATE "channels" SET "failing_since" = "last_attempt_at"
 WHERE "status" = 'active' AND "last_outcome" = 'failure' AND "last_attempt_at" IS NOT NULL;
