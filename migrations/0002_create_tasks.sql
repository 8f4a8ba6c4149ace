-- Tasks belong to a token subject, not to a row in users: tokens from a Better Auth
-- front end carry ids that are not UUIDs and have no account here.
CREATE TABLE tasks (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     text        NOT NULL CHECK (char_length(user_id) BETWEEN 1 AND 128),
    title       text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description text        CHECK (char_length(description) <= 2000),
    completed   boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Serves the default listing (one owner, newest first, ties by id) in either direction,
-- and every lookup by owner.
CREATE INDEX tasks_user_created_idx ON tasks (user_id, created_at, id);
