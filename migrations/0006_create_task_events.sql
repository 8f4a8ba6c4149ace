-- The task events outbox (TASK_EVENTS=outbox; docs/EVENTS.md): one row per task change,
-- inserted by the same statement as the change (shared/src/db/tasks.rs), so a change
-- and its event commit together or not at all. The columns are the ones Debezium's
-- outbox event router reads by default; `payload` is a CloudEvents 1.0 JSON envelope.
-- Rows older than TASK_EVENTS_RETENTION_DAYS are pruned by later writes, a hundred at
-- a time: the table is a feed for change data capture, not a history.
CREATE TABLE task_events (
    id            uuid        PRIMARY KEY,
    aggregatetype text        NOT NULL,
    aggregateid   text        NOT NULL,
    type          text        NOT NULL,
    payload       jsonb       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX task_events_created_idx ON task_events (created_at);
