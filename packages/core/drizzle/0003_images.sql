CREATE TABLE "images" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"project_id" uuid NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"format" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"source_url" text,
	"expected_sha256" text,
	"sha256" text,
	"size_bytes" bigint,
	"bytes_done" bigint DEFAULT 0 NOT NULL,
	"bytes_total" bigint,
	"error" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"lease_owner" text,
	"lease_expires_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "vms" ADD COLUMN "image_id" uuid;--> statement-breakpoint
ALTER TABLE "vms" ADD COLUMN "iso_image_id" uuid;--> statement-breakpoint
ALTER TABLE "images" ADD CONSTRAINT "images_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "images_project_created_idx" ON "images" USING btree ("project_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "images_open_idx" ON "images" USING btree ("created_at") WHERE "images"."status" IN ('pending', 'downloading');--> statement-breakpoint
CREATE UNIQUE INDEX "images_source_once_uq" ON "images" USING btree ("project_id","source_url",coalesce("expected_sha256", '')) WHERE "images"."source_url" IS NOT NULL AND "images"."status" <> 'error';--> statement-breakpoint
ALTER TABLE "vms" ADD CONSTRAINT "vms_image_id_images_id_fk" FOREIGN KEY ("image_id") REFERENCES "public"."images"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vms" ADD CONSTRAINT "vms_iso_image_id_images_id_fk" FOREIGN KEY ("iso_image_id") REFERENCES "public"."images"("id") ON DELETE set null ON UPDATE no action;