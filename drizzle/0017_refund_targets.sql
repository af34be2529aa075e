ALTER TABLE "ledger_entries" ADD COLUMN "refund_of" text;--> statement-breakpoint
CREATE INDEX "ledger_entries_refund_of" ON "ledger_entries" USING btree ("workspace_id","refund_of") WHERE "ledger_entries"."refund_of" is not null;--> statement-breakpoint
-- Refunds booked before the column: their line (in detail) names the session or the charge.
UPDATE "ledger_entries" SET "refund_of" = CASE WHEN "detail"->>'charge' IS NOT NULL THEN 'charge:' || ("detail"->>'charge') ELSE 'session:' || ("detail"->>'session') END WHERE "kind" = 'refund';
