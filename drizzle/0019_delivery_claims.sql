ALTER TABLE "deliveries" ADD COLUMN "claim" text;--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "claimed_until" timestamp with time zone;