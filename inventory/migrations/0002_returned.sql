-- A sold reservation can now be returned (its order was refunded and the
-- units went back on hand). SQLite cannot change a CHECK constraint, so the
-- two reservation tables are rebuilt: the lines first, so that no foreign key
-- ever points at a missing row, and the renames rewrite the references.
CREATE TABLE reservations_new (
    order_id   TEXT PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('held', 'committed', 'released', 'expired', 'returned')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO reservations_new SELECT order_id, status, created_at, expires_at, updated_at FROM reservations;

CREATE TABLE reservation_lines_new (
    order_id   TEXT NOT NULL REFERENCES reservations_new (order_id),
    line_no    INTEGER NOT NULL,
    product_id TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, line_no),
    UNIQUE (order_id, product_id)
) WITHOUT ROWID;
INSERT INTO reservation_lines_new SELECT order_id, line_no, product_id, quantity FROM reservation_lines;

DROP TABLE reservation_lines;
DROP TABLE reservations;
ALTER TABLE reservations_new RENAME TO reservations;
ALTER TABLE reservation_lines_new RENAME TO reservation_lines;

CREATE INDEX reservations_held_by_expiry ON reservations (expires_at) WHERE status = 'held';
-- Reconciliation pages through held reservations by order ID.
CREATE INDEX reservations_held_by_order ON reservations (order_id, created_at) WHERE status = 'held';
