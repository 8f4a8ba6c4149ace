-- A listing's `total` without counting rows: each owner's number of tasks, and of
-- completed ones, kept by triggers in the same statement as every write that changes
-- them (so a write that fails or changes nothing changes no count either, and the counts
-- commit together with the change or not at all). The open tasks are total - completed.
--
-- The triggers run once per statement, on the statement's changed rows (transition
-- tables): one row for the API's writes, and a bulk import of a million rows is one
-- update per owner, not a million. Concurrent writes of one owner queue on the owner's
-- counts row for the rest of their transaction; writes of different owners never meet.
CREATE TABLE task_counts (
    user_id   text   PRIMARY KEY,
    total     bigint NOT NULL CHECK (total >= 0),
    completed bigint NOT NULL CHECK (completed BETWEEN 0 AND total)
);

-- Writes stop while the counts are taken, and start again with the triggers in place.
LOCK TABLE tasks IN SHARE ROW EXCLUSIVE MODE;

CREATE FUNCTION count_task_changes() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- An owner's first task makes the owner's counts.
        INSERT INTO task_counts AS counts (user_id, total, completed)
        SELECT user_id, count(*), count(*) FILTER (WHERE completed)
        FROM inserted GROUP BY user_id
        ON CONFLICT (user_id) DO UPDATE
            SET total = counts.total + excluded.total,
                completed = counts.completed + excluded.completed;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE task_counts AS counts
        SET total = counts.total - gone.total, completed = counts.completed - gone.completed
        FROM (SELECT user_id, count(*) AS total, count(*) FILTER (WHERE completed) AS completed
              FROM deleted GROUP BY user_id) AS gone
        WHERE counts.user_id = gone.user_id;
    ELSE
        -- Only `completed` moves a count (a task never changes owner).
        UPDATE task_counts AS counts
        SET completed = counts.completed + changed.completed
        FROM (SELECT after.user_id, sum(after.completed::int - before.completed::int) AS completed
              FROM updated AS after JOIN replaced AS before USING (id)
              GROUP BY after.user_id) AS changed
        WHERE counts.user_id = changed.user_id AND changed.completed <> 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_inserted_counted AFTER INSERT ON tasks
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION count_task_changes();

CREATE TRIGGER tasks_deleted_counted AFTER DELETE ON tasks
REFERENCING OLD TABLE AS deleted
FOR EACH STATEMENT EXECUTE FUNCTION count_task_changes();

CREATE TRIGGER tasks_updated_counted AFTER UPDATE ON tasks
REFERENCING OLD TABLE AS replaced NEW TABLE AS updated
FOR EACH STATEMENT EXECUTE FUNCTION count_task_changes();

INSERT INTO task_counts (user_id, total, completed)
SELECT user_id, count(*), count(*) FILTER (WHERE completed) FROM tasks GROUP BY user_id;

-- What a listing's `total` is: all of the owner's tasks, or those with `completed` as
-- given. One index lookup, whatever the owner's task count.
CREATE FUNCTION task_total(owner text, completed boolean) RETURNS bigint
LANGUAGE sql
STABLE
BEGIN ATOMIC
    SELECT coalesce((
        SELECT CASE WHEN task_total.completed IS NULL THEN counts.total
                    WHEN task_total.completed THEN counts.completed
                    ELSE counts.total - counts.completed END
        FROM task_counts AS counts WHERE counts.user_id = owner), 0);
END;

-- An index for every sort the listing offers, with and without the `completed` filter,
-- each ending in `id` (the tie-breaker), so that every page, the first or one after a
-- cursor, is read in order from its index: no sort, and no more rows than the page.
-- Read backwards for `sort_order=desc`. The first (user_id, created_at, id) exists
-- since 0002.
--
-- On a large table these builds hold writes back while they run (the migration is one
-- transaction). To avoid that, build them first with CREATE INDEX CONCURRENTLY and the
-- same names; IF NOT EXISTS then skips them (the README's Deploy section).
CREATE INDEX IF NOT EXISTS tasks_user_updated_idx ON tasks (user_id, updated_at, id);
CREATE INDEX IF NOT EXISTS tasks_user_title_idx ON tasks (user_id, title, id);
CREATE INDEX IF NOT EXISTS tasks_user_completed_created_idx ON tasks (user_id, completed, created_at, id);
CREATE INDEX IF NOT EXISTS tasks_user_completed_updated_idx ON tasks (user_id, completed, updated_at, id);
CREATE INDEX IF NOT EXISTS tasks_user_completed_title_idx ON tasks (user_id, completed, title, id);
