-- What the development payment provider took and gave back, so that it
-- remembers across restarts like a real provider would.
CREATE TABLE charges (
	idempotency_key TEXT PRIMARY KEY,
	payment_id      TEXT NOT NULL DEFAULT '',  -- '' for a decline
	order_id        TEXT NOT NULL,
	amount          INTEGER NOT NULL,
	currency        TEXT NOT NULL,
	decline_code    TEXT NOT NULL DEFAULT '',
	refund_id       TEXT NOT NULL DEFAULT ''
);
CREATE TABLE refunds (
	idempotency_key TEXT PRIMARY KEY,
	refund_id       TEXT NOT NULL
);
