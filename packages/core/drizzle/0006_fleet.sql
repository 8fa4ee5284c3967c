CREATE TABLE "join_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"token_hash" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"created_by" text NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"revoked_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "join_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "labels" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "cordoned" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "draining" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "agent_version" text;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "agent_credential_hash" text;--> statement-breakpoint
CREATE INDEX "operations_host_open_idx" ON "operations" USING btree ("host_id","created_at") WHERE "operations"."status" IN ('pending', 'running');--> statement-breakpoint
ALTER TABLE "hosts" ADD CONSTRAINT "hosts_agent_credential_hash_unique" UNIQUE("agent_credential_hash");