CREATE TABLE "gpu_devices" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"host_id" uuid NOT NULL,
	"address" text NOT NULL,
	"vendor_id" text NOT NULL,
	"device_id" text NOT NULL,
	"vendor" text,
	"model" text,
	"memory_mb" integer,
	"driver" text,
	"iommu_group" integer,
	"numa_node" integer,
	"health" text DEFAULT 'healthy' NOT NULL,
	"health_reason" text,
	"model_words" text[] DEFAULT '{}'::text[] NOT NULL,
	"vendor_words" text[] DEFAULT '{}'::text[] NOT NULL,
	"missing" boolean DEFAULT false NOT NULL,
	"vm_id" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "project_quotas" ADD COLUMN "gpus" integer;--> statement-breakpoint
ALTER TABLE "vms" ADD COLUMN "gpu_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "vms" ADD COLUMN "gpu_model" text;--> statement-breakpoint
ALTER TABLE "vms" ADD COLUMN "gpu_vendor" text;--> statement-breakpoint
ALTER TABLE "vms" ADD COLUMN "gpu_devices" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "gpu_devices" ADD CONSTRAINT "gpu_devices_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "gpu_devices_host_address_uq" ON "gpu_devices" USING btree ("host_id","address");--> statement-breakpoint
CREATE INDEX "gpu_devices_vm_idx" ON "gpu_devices" USING btree ("vm_id") WHERE "gpu_devices"."vm_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "gpu_devices_free_idx" ON "gpu_devices" USING btree ("host_id") WHERE "gpu_devices"."vm_id" IS NULL AND "gpu_devices"."health" = 'healthy';--> statement-breakpoint
ALTER TABLE "hosts" DROP COLUMN "gpus";