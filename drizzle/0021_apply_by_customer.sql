ALTER TABLE "comp_run_lines" DROP CONSTRAINT "comp_run_lines_workspace_id_run_id_key_pk";--> statement-breakpoint
ALTER TABLE "comp_run_lines" ADD CONSTRAINT "comp_run_lines_workspace_id_run_id_customer_id_key_pk" PRIMARY KEY("workspace_id","run_id","customer_id","key");--> statement-breakpoint
ALTER TABLE "comp_runs" ADD COLUMN "apply_cursor" text;--> statement-breakpoint
ALTER TABLE "comp_runs" ADD COLUMN "apply_messages" integer DEFAULT 0 NOT NULL;