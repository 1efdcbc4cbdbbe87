-- The outbox: product.created, product.updated and product.deleted events
-- wait here, written in the same transaction as the change they announce,
-- until the relay has published them (internal/outbox.Schema; subject is the
-- product ID, so the events of one product go out in order).
CREATE TABLE outbox (
	seq          INTEGER PRIMARY KEY,
	id           TEXT NOT NULL,
	subject      TEXT NOT NULL DEFAULT '',
	event        BLOB NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT ''
);
