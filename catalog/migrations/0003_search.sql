-- Full-text search over the products' name, SKU and description, with
-- SQLite's FTS5 (SQLiteStore.Search says how the tables are queried).
--
-- Two contentless indexes (they hold the words, not a copy of the text):
--   product_search       name, sku, description and category of every
--                        product, with which column each word is in
--                        (detail=column) and prefix indexes for the first one
--                        and two letters of every word;
--   product_name_search  name, sku and category only, so that "every word in
--                        the name or SKU" is a small index of its own rather
--                        than a column filter over the big one.
-- Both fold case and diacritics (cafe finds Café). The category is indexed
-- as one token, U+E000 (a private-use character, which no search word ever
-- holds) followed by the category's bytes in hex, so a category filter is
-- one more term of the full-text query.
--
-- A row's key in both indexes is the product's search_key, a number the
-- product keeps for life (the rowid of a table without an INTEGER PRIMARY
-- KEY may change on VACUUM, so it cannot be the link). Within a relevance
-- tier, search results come in search_key order, which is the order the
-- products were added in; the key pages them.
--
-- Triggers keep both indexes in step with products in the same transaction,
-- whatever writes the table; an insert without a search_key gets the next
-- one. name_fold, which the old LIKE search read, goes.

ALTER TABLE products DROP COLUMN name_fold;
ALTER TABLE products ADD COLUMN search_key INTEGER;
UPDATE products SET search_key = rowid;
CREATE INDEX products_search_key ON products (search_key);

CREATE VIRTUAL TABLE product_search USING fts5(
    name, sku, description, category,
    content = '', contentless_delete = 1, detail = column, prefix = '1 2',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE product_name_search USING fts5(
    name, sku, category,
    content = '', contentless_delete = 1, detail = none,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- The words product_search holds, in order: Search reads it to learn which
-- words begin with a search's last word (a virtual table; it stores nothing).
CREATE VIRTUAL TABLE product_search_terms USING fts5vocab(product_search, row);

-- The products that exist already.
INSERT INTO product_search (rowid, name, sku, description, category)
    SELECT search_key, name, sku, description, char(57344) || lower(hex(category)) FROM products;
INSERT INTO product_name_search (rowid, name, sku, category)
    SELECT search_key, name, sku, char(57344) || lower(hex(category)) FROM products;
INSERT INTO product_search (product_search) VALUES ('optimize');
INSERT INTO product_name_search (product_name_search) VALUES ('optimize');

CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN
    UPDATE products SET search_key = (SELECT IFNULL(MAX(search_key), 0) + 1 FROM products)
        WHERE new.search_key IS NULL AND rowid = new.rowid;
    INSERT INTO product_search (rowid, name, sku, description, category)
        SELECT search_key, name, sku, description, char(57344) || lower(hex(category))
        FROM products WHERE rowid = new.rowid;
    INSERT INTO product_name_search (rowid, name, sku, category)
        SELECT search_key, name, sku, char(57344) || lower(hex(category))
        FROM products WHERE rowid = new.rowid;
END;

-- An update that changes no indexed text (a new price, say) leaves the
-- indexes alone. search_key itself is never changed.
CREATE TRIGGER products_search_update AFTER UPDATE OF name, sku, description, category ON products
WHEN old.name IS NOT new.name OR old.sku IS NOT new.sku OR old.description IS NOT new.description
    OR old.category IS NOT new.category
BEGIN
    DELETE FROM product_search WHERE rowid = old.search_key;
    DELETE FROM product_name_search WHERE rowid = old.search_key;
    INSERT INTO product_search (rowid, name, sku, description, category)
        VALUES (new.search_key, new.name, new.sku, new.description, char(57344) || lower(hex(new.category)));
    INSERT INTO product_name_search (rowid, name, sku, category)
        VALUES (new.search_key, new.name, new.sku, char(57344) || lower(hex(new.category)));
END;

CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    DELETE FROM product_search WHERE rowid = old.search_key;
    DELETE FROM product_name_search WHERE rowid = old.search_key;
END;
