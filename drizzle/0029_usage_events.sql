CREATE TABLE "usage_events" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"type" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"customer_id" text NOT NULL,
	"session_id" text,
	"component_id" text,
	"region" text,
	CONSTRAINT "usage_events_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE INDEX "usage_events_type_at" ON "usage_events" USING btree ("workspace_id","type","at");--> statement-breakpoint
CREATE INDEX "usage_events_customer" ON "usage_events" USING btree ("workspace_id","customer_id","type","at");