CREATE TABLE "deliveries" (
	"workspace_id" text NOT NULL,
	"event_id" text NOT NULL,
	"recipient" text NOT NULL,
	"channel" text NOT NULL,
	"address" text NOT NULL,
	"locale" text NOT NULL,
	"status" text NOT NULL,
	"provider" text,
	"provider_message_id" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"not_before" timestamp with time zone,
	"sent_at" timestamp with time zone,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "deliveries_workspace_id_event_id_recipient_channel_pk" PRIMARY KEY("workspace_id","event_id","recipient","channel")
);
--> statement-breakpoint
CREATE TABLE "subscribers" (
	"workspace_id" text NOT NULL,
	"id" text NOT NULL,
	"channel" text NOT NULL,
	"address" text NOT NULL,
	"locale" text DEFAULT 'en' NOT NULL,
	"components" text[] DEFAULT '{}'::text[] NOT NULL,
	"regions" text[] DEFAULT '{}'::text[] NOT NULL,
	"quiet_hours" jsonb,
	"digest_minutes" integer,
	"sms_entitled" boolean DEFAULT false NOT NULL,
	"secrets" jsonb,
	"confirm_code_hash" text,
	"confirm_attempts" integer DEFAULT 0 NOT NULL,
	"confirmed_at" timestamp with time zone,
	"unsubscribed_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "subscribers_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "suppressions" (
	"workspace_id" text NOT NULL,
	"channel" text NOT NULL,
	"address" text NOT NULL,
	"reason" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "suppressions_workspace_id_channel_address_pk" PRIMARY KEY("workspace_id","channel","address")
);
--> statement-breakpoint
ALTER TABLE "outbox_messages" ADD COLUMN "estimate" jsonb;--> statement-breakpoint
ALTER TABLE "outbox_messages" ADD COLUMN "confirmed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "outbox_messages" ADD COLUMN "confirmed_by" text;--> statement-breakpoint
ALTER TABLE "outbox_messages" ADD COLUMN "dispatched_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "workspaces" ADD COLUMN "link_secret" text DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') NOT NULL;--> statement-breakpoint
ALTER TABLE "workspaces" ADD COLUMN "notification_settings" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
CREATE INDEX "deliveries_provider_message" ON "deliveries" USING btree ("provider","provider_message_id");--> statement-breakpoint
CREATE INDEX "deliveries_held" ON "deliveries" USING btree ("workspace_id","status","not_before");--> statement-breakpoint
CREATE UNIQUE INDEX "subscribers_address" ON "subscribers" USING btree ("workspace_id","channel","address");--> statement-breakpoint
-- A new outbox event wakes every dispatcher at once instead of at its next poll.
CREATE FUNCTION amends_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'pending' THEN PERFORM pg_notify('amends_outbox', NEW.workspace_id); END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER outbox_notify AFTER INSERT OR UPDATE OF status ON "outbox_messages"
  FOR EACH ROW EXECUTE FUNCTION amends_outbox_notify();
