-- Transactions that write VM events announce them once they have committed (the application's
-- notice publisher), not by a NOTIFY inside them: PostgreSQL holds one lock for the database's
-- notification queue from a notifying transaction's commit until it is on disk, so every
-- transaction that wrote a VM event committed one at a time. Host and image events come from
-- triggers on those tables, wherever they change; they are rare, and keep waking the sequencers here.
DROP TRIGGER "events_written" ON "events";--> statement-breakpoint
CREATE TRIGGER "events_written" AFTER INSERT ON "events" FOR EACH ROW WHEN (NEW.vm_id IS NULL)
  EXECUTE FUNCTION "hangar_events_written"();
