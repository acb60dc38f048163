ALTER TABLE "packs" ADD COLUMN "verify_state" text DEFAULT 'pending' NOT NULL;--> statement-breakpoint
ALTER TABLE "packs" ADD COLUMN "verified_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "packs_verify_pending_idx" ON "packs" USING btree ("created_at") WHERE "packs"."verify_state" = 'pending';