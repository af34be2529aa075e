CREATE TABLE "billing_exports" (
	"workspace_id" text NOT NULL,
	"entry_id" text NOT NULL,
	"target" text NOT NULL,
	"status" text NOT NULL,
	"provider_id" text,
	"error" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "billing_exports_workspace_id_entry_id_target_pk" PRIMARY KEY("workspace_id","entry_id","target")
);
--> statement-breakpoint
CREATE TABLE "comp_run_items" (
	"workspace_id" text NOT NULL,
	"run_id" text NOT NULL,
	"type" text NOT NULL,
	"customer_id" text NOT NULL,
	"reference" text NOT NULL,
	"reason" text NOT NULL,
	"detail" text,
	"key" text,
	CONSTRAINT "comp_run_items_workspace_id_run_id_type_customer_id_reference_reason_pk" PRIMARY KEY("workspace_id","run_id","type","customer_id","reference","reason")
);
--> statement-breakpoint
CREATE TABLE "comp_run_lines" (
	"workspace_id" text NOT NULL,
	"run_id" text NOT NULL,
	"key" text NOT NULL,
	"customer_id" text NOT NULL,
	"kind" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text,
	"unit" text,
	"target" bigint NOT NULL,
	"refunded_elsewhere" bigint NOT NULL,
	"line" jsonb NOT NULL,
	CONSTRAINT "comp_run_lines_workspace_id_run_id_key_pk" PRIMARY KEY("workspace_id","run_id","key")
);
--> statement-breakpoint
CREATE TABLE "comp_run_notices" (
	"workspace_id" text NOT NULL,
	"run_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"nothing_due" boolean NOT NULL,
	"keys" jsonb NOT NULL,
	CONSTRAINT "comp_run_notices_workspace_id_run_id_customer_id_pk" PRIMARY KEY("workspace_id","run_id","customer_id")
);
--> statement-breakpoint
CREATE TABLE "comp_runs" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"incident_id" text NOT NULL,
	"policy_id" text NOT NULL,
	"policy_version" integer NOT NULL,
	"status" text NOT NULL,
	"as_of" timestamp with time zone NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"window_end" timestamp with time zone NOT NULL,
	"summary" jsonb NOT NULL,
	"preview_hash" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"created_by" text,
	"approved_at" timestamp with time zone,
	"approved_by" text,
	"applied_at" timestamp with time zone,
	"applied_summary" jsonb,
	CONSTRAINT "comp_runs_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "ledger_entries" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"action_key" text NOT NULL,
	"run_id" text,
	"incident_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"kind" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"detail" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "ledger_entries_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "ledger_postings" (
	"workspace_id" text NOT NULL,
	"entry_id" text NOT NULL,
	"account" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	CONSTRAINT "ledger_postings_workspace_id_entry_id_account_pk" PRIMARY KEY("workspace_id","entry_id","account")
);
--> statement-breakpoint
CREATE TABLE "outbox_messages" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"event" text NOT NULL,
	"incident_id" text,
	"customer_id" text,
	"channel" text,
	"address" text,
	"locale" text NOT NULL,
	"template" text NOT NULL,
	"payload" jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "outbox_messages_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "policies" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"version" integer NOT NULL,
	"yaml" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"created_by" text,
	CONSTRAINT "policies_workspace_id_id_version_pk" PRIMARY KEY("workspace_id","id","version")
);
--> statement-breakpoint
ALTER TABLE "ledger_postings" ADD CONSTRAINT "ledger_postings_workspace_id_entry_id_ledger_entries_workspace_id_id_fk" FOREIGN KEY ("workspace_id","entry_id") REFERENCES "public"."ledger_entries"("workspace_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "comp_run_lines_customer" ON "comp_run_lines" USING btree ("workspace_id","run_id","customer_id");--> statement-breakpoint
CREATE INDEX "comp_runs_incident" ON "comp_runs" USING btree ("workspace_id","incident_id");--> statement-breakpoint
CREATE UNIQUE INDEX "ledger_entries_idempotency" ON "ledger_entries" USING btree ("workspace_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "ledger_entries_action" ON "ledger_entries" USING btree ("workspace_id","action_key");--> statement-breakpoint
CREATE INDEX "ledger_entries_customer" ON "ledger_entries" USING btree ("workspace_id","customer_id","created_at");--> statement-breakpoint
CREATE INDEX "ledger_postings_account" ON "ledger_postings" USING btree ("workspace_id","account");--> statement-breakpoint
CREATE UNIQUE INDEX "outbox_idempotency" ON "outbox_messages" USING btree ("workspace_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "outbox_status" ON "outbox_messages" USING btree ("workspace_id","status");