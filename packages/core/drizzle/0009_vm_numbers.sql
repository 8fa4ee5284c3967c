-- Short numbers people type: a VM's, unique in its project and never reused (`vm 42`); a host's,
-- unique in the fleet. What exists is numbered by age.
ALTER TABLE "hosts" ADD COLUMN "number" integer;--> statement-breakpoint
UPDATE "hosts" SET "number" = n.rn
FROM (SELECT "id", row_number() OVER (ORDER BY "created_at", "id") AS rn FROM "hosts") AS n
WHERE "hosts"."id" = n."id";--> statement-breakpoint
ALTER TABLE "hosts" ALTER COLUMN "number" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "hosts" ALTER COLUMN "number" ADD GENERATED ALWAYS AS IDENTITY (sequence name "hosts_number_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1);--> statement-breakpoint
SELECT setval('"hosts_number_seq"', coalesce(max("number"), 0) + 1, false) FROM "hosts";--> statement-breakpoint
ALTER TABLE "hosts" ADD CONSTRAINT "hosts_number_unique" UNIQUE("number");--> statement-breakpoint
-- A project's counter: the number its next VM gets, bumped in the create's transaction.
ALTER TABLE "projects" ADD COLUMN "next_vm_number" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "vms" ADD COLUMN "number" integer;--> statement-breakpoint
UPDATE "vms" SET "number" = n.rn
FROM (SELECT "id", row_number() OVER (PARTITION BY "project_id" ORDER BY "created_at", "id") AS rn FROM "vms") AS n
WHERE "vms"."id" = n."id";--> statement-breakpoint
ALTER TABLE "vms" ALTER COLUMN "number" SET NOT NULL;--> statement-breakpoint
UPDATE "projects" SET "next_vm_number" = v.last + 1
FROM (SELECT "project_id", max("number") AS last FROM "vms" GROUP BY "project_id") AS v
WHERE "projects"."id" = v."project_id";--> statement-breakpoint
CREATE UNIQUE INDEX "vms_project_number_uq" ON "vms" USING btree ("project_id","number");--> statement-breakpoint
-- Answers stored for idempotent replays carry the VM as it was: it gets its number, as the API now shows it.
UPDATE "idempotency_keys" SET "response" = jsonb_set("idempotency_keys"."response", '{vm,number}', to_jsonb(v."number"))
FROM "vms" AS v
WHERE jsonb_typeof("idempotency_keys"."response" -> 'vm') = 'object' AND v."id"::text = "idempotency_keys"."response" -> 'vm' ->> 'id';
