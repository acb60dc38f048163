CREATE TABLE "bad_chunks" (
	"msp_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"chunk_id" "bytea" NOT NULL,
	"pack_id" text NOT NULL,
	"reason" text NOT NULL,
	"detected_at" timestamp with time zone DEFAULT now() NOT NULL,
	"healed_at" timestamp with time zone,
	CONSTRAINT "bad_chunks_pk" PRIMARY KEY("customer_id","chunk_id")
);
--> statement-breakpoint
CREATE TABLE "repository_checks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"msp_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"state" text DEFAULT 'running' NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"packs_checked" integer DEFAULT 0 NOT NULL,
	"chunks_checked" bigint DEFAULT 0 NOT NULL,
	"missing_packs" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"findings" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "restore_tests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"msp_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"machine_id" uuid NOT NULL,
	"recovery_point_id" uuid NOT NULL,
	"trigger" text DEFAULT 'schedule' NOT NULL,
	"state" text DEFAULT 'running' NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"duration_ms" integer,
	"files" integer DEFAULT 0 NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL,
	"fs_checks" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"findings" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "alert_channels" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"msp_id" uuid NOT NULL,
	"customer_id" uuid,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"targets" jsonb NOT NULL,
	"secret_encrypted" text,
	"min_severity" text DEFAULT 'warning' NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "alert_deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"msp_id" uuid NOT NULL,
	"alert_id" uuid,
	"channel_id" uuid NOT NULL,
	"event" text NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_status" integer,
	"last_error" text,
	"next_attempt_at" timestamp with time zone,
	"sent_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "alerts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"msp_id" uuid NOT NULL,
	"customer_id" uuid,
	"machine_id" uuid,
	"condition" text NOT NULL,
	"severity" text NOT NULL,
	"state" text DEFAULT 'open' NOT NULL,
	"dedupe_key" text NOT NULL,
	"title" text NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"occurrences" integer DEFAULT 1 NOT NULL,
	"opened_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"acknowledged_at" timestamp with time zone,
	"acknowledged_by" text,
	"resolved_at" timestamp with time zone,
	"resolved_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "storage_quota_bytes" bigint;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "volume_interval_seconds" integer DEFAULT 3600 NOT NULL;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "vss" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "pre_freeze_command" text;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "post_thaw_command" text;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "hook_timeout_seconds" integer DEFAULT 60 NOT NULL;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "scrub_period_days" integer DEFAULT 7 NOT NULL;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "repo_check_every_hours" integer DEFAULT 24 NOT NULL;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "offline_alert_minutes" integer DEFAULT 30 NOT NULL;--> statement-breakpoint
ALTER TABLE "policies" ADD COLUMN "rpo_missed_factor" integer DEFAULT 3 NOT NULL;--> statement-breakpoint
ALTER TABLE "packs" ADD COLUMN "scrubbed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "packs" ADD COLUMN "scrub_state" text;--> statement-breakpoint
ALTER TABLE "recovery_points" ADD COLUMN "health" text DEFAULT 'ok' NOT NULL;--> statement-breakpoint
ALTER TABLE "recovery_points" ADD COLUMN "damage" jsonb;--> statement-breakpoint
ALTER TABLE "bad_chunks" ADD CONSTRAINT "bad_chunks_msp_id_msps_id_fk" FOREIGN KEY ("msp_id") REFERENCES "public"."msps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bad_chunks" ADD CONSTRAINT "bad_chunks_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "repository_checks" ADD CONSTRAINT "repository_checks_msp_id_msps_id_fk" FOREIGN KEY ("msp_id") REFERENCES "public"."msps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "repository_checks" ADD CONSTRAINT "repository_checks_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restore_tests" ADD CONSTRAINT "restore_tests_msp_id_msps_id_fk" FOREIGN KEY ("msp_id") REFERENCES "public"."msps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restore_tests" ADD CONSTRAINT "restore_tests_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restore_tests" ADD CONSTRAINT "restore_tests_machine_id_machines_id_fk" FOREIGN KEY ("machine_id") REFERENCES "public"."machines"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restore_tests" ADD CONSTRAINT "restore_tests_recovery_point_id_recovery_points_id_fk" FOREIGN KEY ("recovery_point_id") REFERENCES "public"."recovery_points"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_channels" ADD CONSTRAINT "alert_channels_msp_id_msps_id_fk" FOREIGN KEY ("msp_id") REFERENCES "public"."msps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_channels" ADD CONSTRAINT "alert_channels_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_deliveries" ADD CONSTRAINT "alert_deliveries_msp_id_msps_id_fk" FOREIGN KEY ("msp_id") REFERENCES "public"."msps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_deliveries" ADD CONSTRAINT "alert_deliveries_alert_id_alerts_id_fk" FOREIGN KEY ("alert_id") REFERENCES "public"."alerts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_deliveries" ADD CONSTRAINT "alert_deliveries_channel_id_alert_channels_id_fk" FOREIGN KEY ("channel_id") REFERENCES "public"."alert_channels"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_msp_id_msps_id_fk" FOREIGN KEY ("msp_id") REFERENCES "public"."msps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_machine_id_machines_id_fk" FOREIGN KEY ("machine_id") REFERENCES "public"."machines"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_acknowledged_by_users_id_fk" FOREIGN KEY ("acknowledged_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_resolved_by_users_id_fk" FOREIGN KEY ("resolved_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bad_chunks_msp_id_idx" ON "bad_chunks" USING btree ("msp_id");--> statement-breakpoint
CREATE INDEX "bad_chunks_open_idx" ON "bad_chunks" USING btree ("customer_id") WHERE "bad_chunks"."healed_at" IS NULL;--> statement-breakpoint
CREATE INDEX "repository_checks_msp_id_idx" ON "repository_checks" USING btree ("msp_id");--> statement-breakpoint
CREATE INDEX "repository_checks_customer_started_idx" ON "repository_checks" USING btree ("customer_id","started_at");--> statement-breakpoint
CREATE INDEX "restore_tests_msp_id_idx" ON "restore_tests" USING btree ("msp_id");--> statement-breakpoint
CREATE INDEX "restore_tests_customer_id_idx" ON "restore_tests" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "restore_tests_machine_started_idx" ON "restore_tests" USING btree ("machine_id","started_at");--> statement-breakpoint
CREATE INDEX "restore_tests_point_idx" ON "restore_tests" USING btree ("recovery_point_id");--> statement-breakpoint
CREATE INDEX "alert_channels_msp_id_idx" ON "alert_channels" USING btree ("msp_id");--> statement-breakpoint
CREATE INDEX "alert_channels_customer_id_idx" ON "alert_channels" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "alert_deliveries_msp_created_idx" ON "alert_deliveries" USING btree ("msp_id","created_at");--> statement-breakpoint
CREATE INDEX "alert_deliveries_alert_id_idx" ON "alert_deliveries" USING btree ("alert_id");--> statement-breakpoint
CREATE INDEX "alert_deliveries_channel_id_idx" ON "alert_deliveries" USING btree ("channel_id");--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_one_unresolved_uq" ON "alerts" USING btree ("msp_id","dedupe_key") WHERE "alerts"."state" <> 'resolved';--> statement-breakpoint
CREATE INDEX "alerts_msp_state_idx" ON "alerts" USING btree ("msp_id","state","opened_at");--> statement-breakpoint
CREATE INDEX "alerts_customer_id_idx" ON "alerts" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "alerts_machine_id_idx" ON "alerts" USING btree ("machine_id");--> statement-breakpoint
CREATE INDEX "packs_scrub_order_idx" ON "packs" USING btree ("customer_id","scrubbed_at");--> statement-breakpoint
CREATE INDEX "recovery_points_damaged_idx" ON "recovery_points" USING btree ("customer_id") WHERE "recovery_points"."health" = 'damaged';