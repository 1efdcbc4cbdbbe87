-- Accounts. Emails are stored trimmed and lower-cased by the service; the
-- unique index is what makes "email taken" hold even for concurrent sign-ups.
-- created_at is RFC 3339 UTC text with nanoseconds.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('customer', 'admin')),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX users_email ON users (email);
