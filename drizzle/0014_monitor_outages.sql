CREATE TABLE "monitor_outages" (
	"workspace_id" text NOT NULL,
	"monitor_id" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	"component_ids" text[] NOT NULL,
	"status" text NOT NULL,
	CONSTRAINT "monitor_outages_workspace_id_monitor_id_started_at_pk" PRIMARY KEY("workspace_id","monitor_id","started_at")
);
--> statement-breakpoint
CREATE INDEX "monitor_outages_ended" ON "monitor_outages" USING btree ("workspace_id","ended_at");