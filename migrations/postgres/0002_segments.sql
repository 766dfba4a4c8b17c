-- Psychographic segments from `rapport segment`: the latest run's segments, and each
-- customer's segment (derived from statistics, recomputed by every run).
ALTER TABLE customers ADD COLUMN cluster TEXT NOT NULL DEFAULT '';
CREATE TABLE segments (
    name        TEXT PRIMARY KEY,
    position    INTEGER NOT NULL,
    description TEXT NOT NULL,
    centre      TEXT NOT NULL,
    customers   BIGINT NOT NULL,
    run_at      DOUBLE PRECISION NOT NULL
);
