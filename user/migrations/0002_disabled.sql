-- Accounts an admin disabled: they cannot log in, and their tokens are
-- refused where tokens are checked against the accounts. 0 or 1.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
