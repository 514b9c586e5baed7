CREATE TABLE "channels" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"type" text NOT NULL,
	"display_name" text NOT NULL,
	"local_name" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"meta" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"credentials" text NOT NULL,
	"key_id" text NOT NULL,
	"expires_at" timestamp with time zone,
	"refresh_token_expires_at" timestamp with time zone,
	"has_refresh_token" boolean NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"last_refreshed_at" timestamp with time zone,
	"last_attempt_at" timestamp with time zone,
	"last_outcome" text,
	"last_error_code" text,
	"last_error" text,
	"failure_count" integer DEFAULT 0 NOT NULL,
	"refresh_attempt_id" text,
	"refresh_started_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "channels_tenant_id_id_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "refresh_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"channel_id" text NOT NULL,
	"job_id" text,
	"trigger" text NOT NULL,
	"attempt" integer DEFAULT 1 NOT NULL,
	"outcome" text NOT NULL,
	"error_code" text,
	"error_message" text,
	"http_status" integer,
	"duration_ms" integer NOT NULL,
	"old_expires_at" timestamp with time zone,
	"new_expires_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "refresh_schedules" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"interval_minutes" integer NOT NULL,
	"window_minutes" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "channels_tenant_expires_idx" ON "channels" USING btree ("tenant_id","expires_at");--> statement-breakpoint
CREATE INDEX "channels_key_id_idx" ON "channels" USING btree ("key_id");--> statement-breakpoint
CREATE INDEX "refresh_events_tenant_created_idx" ON "refresh_events" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "refresh_events_channel_idx" ON "refresh_events" USING btree ("tenant_id","channel_id","created_at");