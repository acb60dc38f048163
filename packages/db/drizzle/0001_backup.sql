CREATE TABLE "agent_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"msp_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"machine_id" uuid NOT NULL,
	"time" timestamp with time zone NOT NULL,
	"level" text NOT NULL,
	"kind" text NOT NULL,
	"message" text NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "chunk_index" (
	"msp_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"chunk_id" "bytea" NOT NULL,
	"pack_id" text NOT NULL,
	"offset" bigint NOT NULL,
	"length" integer NOT NULL,
	"raw_length" integer NOT NULL,
	"type" smallint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "chunk_index_pk" PRIMARY KEY("customer_id","chunk_id")
);
--> statement-breakpoint
CREATE TABLE "customer_keys" (
	"customer_id" uuid PRIMARY KEY NOT NULL,
	"msp_id" uuid NOT NULL,
	"kek_id" text NOT NULL,
	"wrapped_key" text NOT NULL,
	"repository_id" text,
	"repository_config" jsonb,
	"repository_initialized_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "machine_agents" (
	"machine_id" uuid PRIMARY KEY NOT NULL,
	"msp_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"hostname" text,
	"os_version" text,
	"agent_version" text,
	"volumes" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"free_bytes" bigint,
	"last_error" text,
	"status" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"last_heartbeat_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"enrollments" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "packs" (
	"msp_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"pack_id" text NOT NULL,
	"size" bigint NOT NULL,
	"salt" "bytea" NOT NULL,
	"blob_count" integer NOT NULL,
	"state" text DEFAULT 'indexed' NOT NULL,
	"uploaded_by_machine_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "packs_pk" PRIMARY KEY("customer_id","pack_id")
);
--> statement-breakpoint
CREATE TABLE "recovery_points" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"msp_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"machine_id" uuid NOT NULL,
	"client_point_id" text NOT NULL,
	"snapshot_id" text,
	"manifest" jsonb NOT NULL,
	"time" timestamp with time zone NOT NULL,
	"consistency" text NOT NULL,
	"stats" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "recovery_points_client_id_uq" UNIQUE("machine_id","client_point_id")
);
--> statement-breakpoint
CREATE TABLE "restore_jobs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"msp_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"machine_id" uuid NOT NULL,
	"recovery_point_id" uuid NOT NULL,
	"paths" jsonb NOT NULL,
	"destination" text,
	"conflict" text NOT NULL,
	"state" text DEFAULT 'queued' NOT NULL,
	"progress" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"result" jsonb,
	"requested_by_user_id" text,
	"claimed_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agent_events" ADD CONSTRAINT "agent_events_msp_id_msps_id_fk" FOREIGN KEY ("msp_id") REFERENCES "public"."msps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_events" ADD CONSTRAINT "agent_events_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_events" ADD CONSTRAINT "agent_events_machine_id_machines_id_fk" FOREIGN KEY ("machine_id") REFERENCES "public"."machines"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chunk_index" ADD CONSTRAINT "chunk_index_msp_id_msps_id_fk" FOREIGN KEY ("msp_id") REFERENCES "public"."msps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chunk_index" ADD CONSTRAINT "chunk_index_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_keys" ADD CONSTRAINT "customer_keys_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_keys" ADD CONSTRAINT "customer_keys_msp_id_msps_id_fk" FOREIGN KEY ("msp_id") REFERENCES "public"."msps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "machine_agents" ADD CONSTRAINT "machine_agents_machine_id_machines_id_fk" FOREIGN KEY ("machine_id") REFERENCES "public"."machines"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "machine_agents" ADD CONSTRAINT "machine_agents_msp_id_msps_id_fk" FOREIGN KEY ("msp_id") REFERENCES "public"."msps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "machine_agents" ADD CONSTRAINT "machine_agents_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "packs" ADD CONSTRAINT "packs_msp_id_msps_id_fk" FOREIGN KEY ("msp_id") REFERENCES "public"."msps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "packs" ADD CONSTRAINT "packs_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "packs" ADD CONSTRAINT "packs_uploaded_by_machine_id_machines_id_fk" FOREIGN KEY ("uploaded_by_machine_id") REFERENCES "public"."machines"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recovery_points" ADD CONSTRAINT "recovery_points_msp_id_msps_id_fk" FOREIGN KEY ("msp_id") REFERENCES "public"."msps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recovery_points" ADD CONSTRAINT "recovery_points_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recovery_points" ADD CONSTRAINT "recovery_points_machine_id_machines_id_fk" FOREIGN KEY ("machine_id") REFERENCES "public"."machines"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restore_jobs" ADD CONSTRAINT "restore_jobs_msp_id_msps_id_fk" FOREIGN KEY ("msp_id") REFERENCES "public"."msps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restore_jobs" ADD CONSTRAINT "restore_jobs_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restore_jobs" ADD CONSTRAINT "restore_jobs_machine_id_machines_id_fk" FOREIGN KEY ("machine_id") REFERENCES "public"."machines"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restore_jobs" ADD CONSTRAINT "restore_jobs_recovery_point_id_recovery_points_id_fk" FOREIGN KEY ("recovery_point_id") REFERENCES "public"."recovery_points"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "restore_jobs" ADD CONSTRAINT "restore_jobs_requested_by_user_id_users_id_fk" FOREIGN KEY ("requested_by_user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agent_events_msp_id_idx" ON "agent_events" USING btree ("msp_id");--> statement-breakpoint
CREATE INDEX "agent_events_customer_id_idx" ON "agent_events" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "agent_events_machine_time_idx" ON "agent_events" USING btree ("machine_id","time");--> statement-breakpoint
CREATE INDEX "chunk_index_pack_idx" ON "chunk_index" USING btree ("customer_id","pack_id");--> statement-breakpoint
CREATE INDEX "chunk_index_msp_id_idx" ON "chunk_index" USING btree ("msp_id");--> statement-breakpoint
CREATE INDEX "customer_keys_msp_id_idx" ON "customer_keys" USING btree ("msp_id");--> statement-breakpoint
CREATE INDEX "machine_agents_msp_id_idx" ON "machine_agents" USING btree ("msp_id");--> statement-breakpoint
CREATE INDEX "machine_agents_customer_id_idx" ON "machine_agents" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "packs_msp_id_idx" ON "packs" USING btree ("msp_id");--> statement-breakpoint
CREATE INDEX "recovery_points_msp_id_idx" ON "recovery_points" USING btree ("msp_id");--> statement-breakpoint
CREATE INDEX "recovery_points_customer_id_idx" ON "recovery_points" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "recovery_points_machine_time_idx" ON "recovery_points" USING btree ("machine_id","time");--> statement-breakpoint
CREATE INDEX "restore_jobs_msp_id_idx" ON "restore_jobs" USING btree ("msp_id");--> statement-breakpoint
CREATE INDEX "restore_jobs_customer_id_idx" ON "restore_jobs" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "restore_jobs_machine_state_idx" ON "restore_jobs" USING btree ("machine_id","state");