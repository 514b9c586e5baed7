ALTER TABLE "tenants" ADD COLUMN "api_key_hash" text;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "api_key_id" text;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "api_key_created_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "channels_tenant_name_idx" ON "channels" USING btree ("tenant_id","display_name","id");--> statement-breakpoint
CREATE INDEX "channels_tenant_type_name_idx" ON "channels" USING btree ("tenant_id","type","display_name","id");--> statement-breakpoint
CREATE UNIQUE INDEX "tenants_api_key_hash_idx" ON "tenants" USING btree ("api_key_hash");