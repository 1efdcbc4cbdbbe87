-- The inbox: the IDs of the events the inventory handled, written in the
-- same transaction as their effect so a redelivered event changes nothing,
-- and the events it gave up on, parked for an operator (inbox.Schema).
CREATE TABLE IF NOT EXISTS inbox (
	consumer   TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	type       TEXT NOT NULL,
	handled_at INTEGER NOT NULL,
	PRIMARY KEY (consumer, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inbox_handled_at ON inbox(handled_at);
CREATE TABLE IF NOT EXISTS inbox_parked (
	consumer  TEXT NOT NULL,
	event_id  TEXT NOT NULL,
	event     BLOB NOT NULL,
	reason    TEXT NOT NULL,
	attempts  INTEGER NOT NULL,
	parked_at INTEGER NOT NULL,
	PRIMARY KEY (consumer, event_id)
);
