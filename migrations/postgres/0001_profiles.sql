-- Customer profiles (src/store). Times are seconds since the Unix epoch (double precision).
-- `state` is TEXT written by serde_json: JSONB would re-print its decayed weights, which grow
-- very small, as long decimals; `derived` and event attributes are JSONB, for queries.

CREATE TABLE customers (
    key            TEXT PRIMARY KEY,
    version        BIGINT NOT NULL DEFAULT 0,
    model_version  TEXT NOT NULL DEFAULT '',
    consent        TEXT NOT NULL DEFAULT 'unknown'
                   CHECK (consent IN ('unknown', 'granted', 'withdrawn')),
    consent_at     DOUBLE PRECISION,
    created_at     DOUBLE PRECISION NOT NULL,
    updated_at     DOUBLE PRECISION NOT NULL,
    last_activity  DOUBLE PRECISION NOT NULL,
    messages       BIGINT NOT NULL DEFAULT 0,
    events         BIGINT NOT NULL DEFAULT 0,
    segment        TEXT NOT NULL DEFAULT '',
    derive_version TEXT NOT NULL DEFAULT '',
    -- ProfileState; NULL until the first batch (a customer recorded only through its consent)
    state          TEXT,
    -- Derived; NULL with state
    derived        JSONB
);

CREATE INDEX customers_segment ON customers (segment);
CREATE INDEX customers_last_activity ON customers (last_activity);

-- Each ingested message's id (idempotency) and time; the redacted text only with --store-text.
CREATE TABLE customer_messages (
    key           TEXT NOT NULL REFERENCES customers (key) ON DELETE CASCADE,
    message_id    TEXT NOT NULL,
    at            DOUBLE PRECISION NOT NULL,
    redacted_text TEXT,
    PRIMARY KEY (key, message_id)
);

CREATE INDEX customer_messages_at ON customer_messages (at);

CREATE TABLE customer_events (
    key          TEXT NOT NULL REFERENCES customers (key) ON DELETE CASCADE,
    event_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    custom_kind  TEXT NOT NULL DEFAULT '',
    at           DOUBLE PRECISION NOT NULL,
    channel      TEXT NOT NULL DEFAULT '',
    amount_minor BIGINT NOT NULL DEFAULT 0,
    currency     TEXT NOT NULL DEFAULT '',
    score        DOUBLE PRECISION,
    attributes   JSONB NOT NULL DEFAULT '{}',
    PRIMARY KEY (key, event_id)
);

CREATE INDEX customer_events_at ON customer_events (at);

-- What was done to a customer's data, never the data.
CREATE TABLE audit_log (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key    TEXT NOT NULL REFERENCES customers (key) ON DELETE CASCADE,
    at     DOUBLE PRECISION NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_key ON audit_log (key);

-- Tombstones of erased customers: when, why, and how many rows per table; no key, no id.
CREATE TABLE erasures (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     DOUBLE PRECISION NOT NULL,
    reason TEXT NOT NULL,
    -- {"table": rows deleted}
    rows   JSONB NOT NULL
);
