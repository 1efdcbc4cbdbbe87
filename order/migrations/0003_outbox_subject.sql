-- The outbox publishes the events of one order in the order they were
-- recorded, even when one of them has to be retried, and holds only the
-- events still to publish (internal/outbox.Upgrade): each row names its
-- subject (the order), and sent rows are deleted instead of kept.
CREATE TABLE outbox_next (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL,
	subject      TEXT NOT NULL DEFAULT '',
	event        BLOB NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT ''
);
INSERT INTO outbox_next (seq, id, subject, event, attempts, next_attempt, last_error)
	SELECT seq, id, COALESCE(json_extract(event, '$.subject'), ''), event, attempts, next_attempt, last_error
	FROM outbox WHERE sent_at IS NULL ORDER BY seq;
DROP TABLE outbox;
ALTER TABLE outbox_next RENAME TO outbox;
