-- The outbox publishes the events of one order in the order they were
-- recorded, even when one of them has to be retried: each row names its
-- subject (the order), and an index finds the oldest unsent one per subject.
ALTER TABLE outbox ADD COLUMN subject TEXT NOT NULL DEFAULT '';
UPDATE outbox SET subject = COALESCE(json_extract(event, '$.subject'), '') WHERE sent_at IS NULL;
CREATE INDEX outbox_pending_subject ON outbox(subject, seq) WHERE sent_at IS NULL;
