-- Idempotency-Key on POST /api/{user_id}/tasks (shared/src/db/tasks.rs): per subject,
-- the fingerprint of the first request's body and the task it created, as it was
-- created, so a retry is answered exactly as the first time. Kept at least 24 hours;
-- older rows are pruned by later keyed creates.
CREATE TABLE idempotency_keys (
    user_id     text        NOT NULL,
    key         text        NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    fingerprint text        NOT NULL,
    task_id     uuid        NOT NULL,
    title       text        NOT NULL,
    description text,
    completed   boolean     NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
