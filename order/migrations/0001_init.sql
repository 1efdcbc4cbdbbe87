CREATE TABLE orders (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL,
	status     TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'cancelled', 'expired')),
	lines      TEXT NOT NULL,
	total      INTEGER NOT NULL CHECK (total >= 0),
	currency   TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	payment_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX orders_by_user ON orders(user_id, id);
CREATE INDEX orders_pending_expiry ON orders(expires_at) WHERE status = 'pending';

CREATE TABLE order_history (
	order_id    TEXT NOT NULL REFERENCES orders(id),
	seq         INTEGER NOT NULL,
	from_status TEXT NOT NULL,
	to_status   TEXT NOT NULL,
	actor       TEXT NOT NULL,
	at          INTEGER NOT NULL,
	PRIMARY KEY (order_id, seq)
);

CREATE TABLE idempotency_keys (
	user_id      TEXT NOT NULL,
	key          TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	order_id     TEXT NOT NULL REFERENCES orders(id),
	PRIMARY KEY (user_id, key)
);

CREATE TABLE outbox (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	id           TEXT NOT NULL UNIQUE,
	event        BLOB NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	sent_at      INTEGER
);
CREATE INDEX outbox_pending ON outbox(next_attempt) WHERE sent_at IS NULL;
