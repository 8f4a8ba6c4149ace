-- Failed logins per account, for login throttling (shared/src/db/logins.rs). The key is
-- 'user:<id>' when the identifier names an account (by username or email alike), else
-- 'name:<lowercased identifier>', so unknown names are throttled exactly like real ones.
-- A row counts the failures since window_start; expired rows are pruned as failures come.
CREATE TABLE login_failures (
    key          text        PRIMARY KEY CHECK (char_length(key) <= 300),
    failures     integer     NOT NULL CHECK (failures > 0),
    window_start timestamptz NOT NULL
);

CREATE INDEX login_failures_window_idx ON login_failures (window_start);
