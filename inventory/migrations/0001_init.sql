-- Stock per product. available = on_hand - reserved; the checks make
-- overselling impossible even for a statement that forgets to test it.
CREATE TABLE stock (
    product_id TEXT PRIMARY KEY,
    on_hand    INTEGER NOT NULL,
    reserved   INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    CHECK (reserved >= 0),
    CHECK (on_hand >= reserved)
) WITHOUT ROWID;

-- One reservation per order: held until committed, released or expired.
CREATE TABLE reservations (
    order_id   TEXT PRIMARY KEY,
    status     TEXT NOT NULL CHECK (status IN ('held', 'committed', 'released', 'expired')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;

-- The expiry sweep looks for held reservations past their expiry.
CREATE INDEX reservations_held_by_expiry ON reservations (expires_at) WHERE status = 'held';

-- The lines of a reservation, one per product, in the order the order listed them.
CREATE TABLE reservation_lines (
    order_id   TEXT NOT NULL REFERENCES reservations (order_id),
    line_no    INTEGER NOT NULL,
    product_id TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, line_no),
    UNIQUE (order_id, product_id)
) WITHOUT ROWID;
