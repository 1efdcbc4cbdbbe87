-- Products. Times are unix nanoseconds (UTC). name_fold is the lower-cased
-- name, which the name search matches against.
CREATE TABLE products (
    id          TEXT    NOT NULL PRIMARY KEY,
    sku         TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    name_fold   TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    price       INTEGER NOT NULL CHECK (price >= 0),
    currency    TEXT    NOT NULL,
    category    TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- One product per SKU, enforced by SQLite so it holds under concurrency.
CREATE UNIQUE INDEX products_sku ON products (sku);

-- Category filter in id order (keyset paging).
CREATE INDEX products_category_id ON products (category, id);
