ALTER TABLE "events" ALTER COLUMN "vm_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ALTER COLUMN "project_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "image_id" uuid;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "host_id" uuid;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "seq" bigint;--> statement-breakpoint
CREATE UNIQUE INDEX "events_seq_uq" ON "events" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "events_unsequenced_idx" ON "events" USING btree ("id") WHERE "events"."seq" IS NULL;--> statement-breakpoint
CREATE SEQUENCE "events_seq_seq" AS bigint;--> statement-breakpoint
-- Images and hosts change from many places (the API, the worker, agents, maintenance); a trigger
-- records each change as an event whichever path made it.
CREATE FUNCTION "hangar_image_event"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO events (project_id, image_id, type, message, to_status, data)
    VALUES (NEW.project_id, NEW.id, 'image.created', format('Image %s added', NEW.name), NEW.status, jsonb_build_object('name', NEW.name, 'kind', NEW.kind));
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO events (project_id, image_id, type, message, from_status, to_status, data)
    VALUES (NEW.project_id, NEW.id, 'image.status_changed', format('Image %s is %s', NEW.name, NEW.status), OLD.status, NEW.status,
            jsonb_build_object('name', NEW.name, 'error', NEW.error));
  ELSE
    INSERT INTO events (project_id, image_id, type, message, from_status, data)
    VALUES (OLD.project_id, OLD.id, 'image.deleted', format('Image %s deleted', OLD.name), OLD.status, jsonb_build_object('name', OLD.name));
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "images_events_insert" AFTER INSERT ON "images" FOR EACH ROW EXECUTE FUNCTION "hangar_image_event"();--> statement-breakpoint
CREATE TRIGGER "images_events_update" AFTER UPDATE OF "status" ON "images" FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION "hangar_image_event"();--> statement-breakpoint
CREATE TRIGGER "images_events_delete" AFTER DELETE ON "images" FOR EACH ROW EXECUTE FUNCTION "hangar_image_event"();--> statement-breakpoint
CREATE FUNCTION "hangar_host_event"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO events (host_id, type, message, to_status, data)
    VALUES (NEW.id, 'host.registered', format('Host %s registered', NEW.name), NEW.status, jsonb_build_object('name', NEW.name));
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO events (host_id, type, message, from_status, to_status, data)
    VALUES (NEW.id,
            CASE WHEN OLD.status IS DISTINCT FROM NEW.status THEN 'host.status_changed' ELSE 'host.updated' END,
            format('Host %s is %s%s%s', NEW.name, NEW.status, CASE WHEN NEW.cordoned THEN ', cordoned' ELSE '' END,
                   CASE WHEN NEW.draining THEN ', draining' ELSE '' END),
            OLD.status, NEW.status,
            jsonb_build_object('name', NEW.name, 'reason', NEW.status_reason, 'cordoned', NEW.cordoned,
                               'draining', NEW.draining, 'labels', NEW.labels));
  ELSE
    INSERT INTO events (host_id, type, message, from_status, data)
    VALUES (OLD.id, 'host.removed', format('Host %s removed', OLD.name), OLD.status, jsonb_build_object('name', OLD.name));
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "hosts_events_insert" AFTER INSERT ON "hosts" FOR EACH ROW EXECUTE FUNCTION "hangar_host_event"();--> statement-breakpoint
-- Not on every heartbeat: only what a watcher cares about.
CREATE TRIGGER "hosts_events_update" AFTER UPDATE ON "hosts" FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.cordoned IS DISTINCT FROM NEW.cordoned
        OR OLD.draining IS DISTINCT FROM NEW.draining OR OLD.labels IS DISTINCT FROM NEW.labels)
  EXECUTE FUNCTION "hangar_host_event"();--> statement-breakpoint
CREATE TRIGGER "hosts_events_delete" AFTER DELETE ON "hosts" FOR EACH ROW EXECUTE FUNCTION "hangar_host_event"();--> statement-breakpoint
-- New events wake the sequencers: one notification per committing transaction (PostgreSQL folds
-- identical ones), delivered only if it commits.
CREATE FUNCTION "hangar_events_written"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('hangar_events_written', '');
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "events_written" AFTER INSERT ON "events" FOR EACH STATEMENT EXECUTE FUNCTION "hangar_events_written"();
