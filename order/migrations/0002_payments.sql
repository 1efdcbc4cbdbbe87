-- Payments that survive races and crashes, refunds, and idempotency keys
-- claimed before stock is reserved. SQLite cannot change a CHECK constraint
-- or drop a foreign key, so the three tables are rebuilt: the referring
-- tables are dropped before the one they refer to, and the renames rewrite
-- the references.
CREATE TABLE orders_new (
	id               TEXT PRIMARY KEY,
	user_id          TEXT NOT NULL,
	status           TEXT NOT NULL CHECK (status IN ('pending', 'paying', 'paid', 'cancelled', 'expired', 'refunded')),
	lines            TEXT NOT NULL,
	total            INTEGER NOT NULL CHECK (total >= 0),
	currency         TEXT NOT NULL,
	created_at       INTEGER NOT NULL,
	expires_at       INTEGER NOT NULL,
	payment_id       TEXT NOT NULL DEFAULT '',
	-- payment_attempts counts the charges tried; the idempotency key of
	-- attempt n is "<order id>/pay/<n>".
	payment_attempts INTEGER NOT NULL DEFAULT 0,
	refund_id        TEXT NOT NULL DEFAULT ''
);
INSERT INTO orders_new (id, user_id, status, lines, total, currency, created_at, expires_at, payment_id)
	SELECT id, user_id, status, lines, total, currency, created_at, expires_at, payment_id FROM orders;

CREATE TABLE order_history_new (
	order_id    TEXT NOT NULL REFERENCES orders_new(id),
	seq         INTEGER NOT NULL,
	from_status TEXT NOT NULL,
	to_status   TEXT NOT NULL,
	actor       TEXT NOT NULL,
	at          INTEGER NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (order_id, seq)
);
INSERT INTO order_history_new (order_id, seq, from_status, to_status, actor, at)
	SELECT order_id, seq, from_status, to_status, actor, at FROM order_history;

-- A key is claimed (with the ID its order will get) before stock is
-- reserved, so the order may not exist yet: no foreign key.
CREATE TABLE idempotency_keys_new (
	user_id      TEXT NOT NULL,
	key          TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	order_id     TEXT NOT NULL,
	claimed_at   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, key)
);
INSERT INTO idempotency_keys_new (user_id, key, request_hash, order_id)
	SELECT user_id, key, request_hash, order_id FROM idempotency_keys;

DROP TABLE idempotency_keys;
DROP TABLE order_history;
DROP TABLE orders;
ALTER TABLE orders_new RENAME TO orders;
ALTER TABLE order_history_new RENAME TO order_history;
ALTER TABLE idempotency_keys_new RENAME TO idempotency_keys;

CREATE INDEX orders_by_user ON orders(user_id, id);
CREATE INDEX orders_pending_expiry ON orders(expires_at) WHERE status = 'pending';
CREATE INDEX orders_paying ON orders(id) WHERE status = 'paying';
CREATE INDEX idempotency_keys_by_order ON idempotency_keys(order_id);
