-- The outbox: user.registered events wait here, written in the same
-- transaction as the account they announce, until the relay has published
-- them (internal/outbox.Schema; subject is the user ID).
CREATE TABLE outbox (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL,
	subject      TEXT NOT NULL DEFAULT '',
	event        BLOB NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT ''
);
