CREATE TABLE "project_quotas" (
	"project_id" uuid PRIMARY KEY NOT NULL,
	"vms" integer,
	"cpu_cores" integer,
	"memory_mb" integer,
	"disk_gb" integer,
	"images" integer,
	"running_downloads" integer,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "project_quotas" ADD CONSTRAINT "project_quotas_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE no action ON UPDATE no action;