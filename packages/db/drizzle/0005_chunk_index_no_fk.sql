ALTER TABLE "chunk_index" DROP CONSTRAINT "chunk_index_msp_id_msps_id_fk";
--> statement-breakpoint
ALTER TABLE "chunk_index" DROP CONSTRAINT "chunk_index_customer_id_customers_id_fk";
--> statement-breakpoint
DROP INDEX "chunk_index_msp_id_idx";--> statement-breakpoint
-- chunk_index has no foreign keys (per-row checks were ~45 % of its insert CPU): what the
-- ON DELETE CASCADE from customers did (and, through customers, from msps), this trigger does.
CREATE FUNCTION "chunk_index_forget_customer"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "chunk_index" WHERE "customer_id" = OLD."id";
  RETURN OLD;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "customers_forget_chunk_index" AFTER DELETE ON "customers" FOR EACH ROW EXECUTE FUNCTION "chunk_index_forget_customer"();
