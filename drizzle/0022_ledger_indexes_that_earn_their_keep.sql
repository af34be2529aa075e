DROP INDEX "ledger_postings_account";--> statement-breakpoint
DROP INDEX "ledger_entries_run";--> statement-breakpoint
CREATE INDEX "ledger_entries_run" ON "ledger_entries" USING btree ("workspace_id","run_id");