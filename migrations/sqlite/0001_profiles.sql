-- Customer profiles (src/store). Times are seconds since the Unix epoch (REAL); JSON columns
-- are TEXT written by serde_json. STRICT tables: a value of the wrong type is refused.

CREATE TABLE customers (
    key            TEXT PRIMARY KEY NOT NULL,
    version        INTEGER NOT NULL DEFAULT 0,
    model_version  TEXT NOT NULL DEFAULT '',
    consent        TEXT NOT NULL DEFAULT 'unknown'
                   CHECK (consent IN ('unknown', 'granted', 'withdrawn')),
    consent_at     REAL,
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL,
    last_activity  REAL NOT NULL,
    messages       INTEGER NOT NULL DEFAULT 0,
    events         INTEGER NOT NULL DEFAULT 0,
    segment        TEXT NOT NULL DEFAULT '',
    derive_version TEXT NOT NULL DEFAULT '',
    -- ProfileState; NULL until the first batch (a customer recorded only through its consent)
    state          TEXT,
    -- Derived; NULL with state
    derived        TEXT
) STRICT;

CREATE INDEX customers_segment ON customers (segment);
CREATE INDEX customers_last_activity ON customers (last_activity);

-- Each ingested message's id (idempotency) and time; the redacted text only with --store-text.
CREATE TABLE customer_messages (
    key           TEXT NOT NULL REFERENCES customers (key) ON DELETE CASCADE,
    message_id    TEXT NOT NULL,
    at            REAL NOT NULL,
    redacted_text TEXT,
    PRIMARY KEY (key, message_id)
) STRICT;

CREATE INDEX customer_messages_at ON customer_messages (at);

CREATE TABLE customer_events (
    key          TEXT NOT NULL REFERENCES customers (key) ON DELETE CASCADE,
    event_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    custom_kind  TEXT NOT NULL DEFAULT '',
    at           REAL NOT NULL,
    channel      TEXT NOT NULL DEFAULT '',
    amount_minor INTEGER NOT NULL DEFAULT 0,
    currency     TEXT NOT NULL DEFAULT '',
    score        REAL,
    -- {"name": "value"}
    attributes   TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (key, event_id)
) STRICT;

CREATE INDEX customer_events_at ON customer_events (at);

-- What was done to a customer's data, never the data.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    key    TEXT NOT NULL REFERENCES customers (key) ON DELETE CASCADE,
    at     REAL NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX audit_log_key ON audit_log (key);

-- Tombstones of erased customers: when, why, and how many rows per table; no key, no id.
CREATE TABLE erasures (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     REAL NOT NULL,
    reason TEXT NOT NULL,
    -- {"table": rows deleted}
    rows   TEXT NOT NULL
) STRICT;
