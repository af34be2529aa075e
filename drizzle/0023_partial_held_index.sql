DROP INDEX "deliveries_held";--> statement-breakpoint
CREATE INDEX "deliveries_held" ON "deliveries" USING btree ("workspace_id","not_before") WHERE "deliveries"."status" = 'held';