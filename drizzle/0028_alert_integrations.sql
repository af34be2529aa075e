CREATE TABLE "alert_events" (
	"workspace_id" text NOT NULL,
	"integration_id" text NOT NULL,
	"event_key" text NOT NULL,
	"fingerprint" text NOT NULL,
	"status" text NOT NULL,
	"summary" text NOT NULL,
	"labels" jsonb NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	CONSTRAINT "alert_events_workspace_id_integration_id_event_key_pk" PRIMARY KEY("workspace_id","integration_id","event_key")
);
--> statement-breakpoint
CREATE TABLE "alert_integrations" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"tool" text NOT NULL,
	"token_hash" text NOT NULL,
	"signing_secret" text,
	"rules" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"component_status" text DEFAULT 'major_outage' NOT NULL,
	"on_failure" text NOT NULL,
	"protocol" text,
	"state" text DEFAULT 'pending' NOT NULL,
	"state_changed_at" timestamp with time zone,
	"recovering_since" timestamp with time zone,
	"transitions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"incident_id" text,
	"failing_components" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "alert_integrations_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "alerts" (
	"workspace_id" text NOT NULL,
	"integration_id" text NOT NULL,
	"fingerprint" text NOT NULL,
	"status" text NOT NULL,
	"summary" text NOT NULL,
	"labels" jsonb NOT NULL,
	"components" jsonb,
	"first_fired_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "alerts_workspace_id_integration_id_fingerprint_pk" PRIMARY KEY("workspace_id","integration_id","fingerprint")
);
--> statement-breakpoint
ALTER TABLE "alert_integrations" ADD CONSTRAINT "alert_integrations_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "alert_events_received" ON "alert_events" USING btree ("workspace_id","integration_id","received_at");--> statement-breakpoint
CREATE INDEX "alerts_firing" ON "alerts" USING btree ("workspace_id","integration_id") WHERE status = 'firing';