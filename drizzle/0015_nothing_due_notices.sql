-- Customers with lines are told what they got; only nothing-due notices stay stored.
DELETE FROM "comp_run_notices" WHERE NOT "nothing_due";--> statement-breakpoint
ALTER TABLE "comp_run_notices" DROP COLUMN "nothing_due";--> statement-breakpoint
ALTER TABLE "comp_run_notices" DROP COLUMN "keys";
