CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"tenant_id" text,
	"scopes" text[] NOT NULL,
	"key_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "token_reads" (
	"tenant_id" text NOT NULL,
	"channel_id" text NOT NULL,
	"reader" text NOT NULL,
	"minute" timestamp with time zone NOT NULL,
	"reads" integer NOT NULL,
	"refreshed" integer NOT NULL,
	CONSTRAINT "token_reads_tenant_id_channel_id_reader_minute_pk" PRIMARY KEY("tenant_id","channel_id","reader","minute")
);
--> statement-breakpoint
ALTER TABLE "channels" ADD COLUMN "platform_details" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_key_hash_idx" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "api_keys_tenant_idx" ON "api_keys" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "token_reads_tenant_minute_idx" ON "token_reads" USING btree ("tenant_id","minute");