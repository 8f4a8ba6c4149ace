-- A listing's `total` without counting rows: each owner's number of tasks, and of
-- completed ones, kept by a trigger in the same statement as every write that changes
-- them (so a write that fails or changes nothing changes no count either, and the counts
-- commit together with the change or not at all). The open tasks are total - completed.
--
-- Concurrent writes of one owner queue on the owner's counts row for the rest of their
-- transaction; writes of different owners never meet.
CREATE TABLE task_counts (
    user_id   text   PRIMARY KEY,
    total     bigint NOT NULL CHECK (total >= 0),
    completed bigint NOT NULL CHECK (completed BETWEEN 0 AND total)
);

-- Writes stop while the counts are taken, and start again with the trigger in place.
LOCK TABLE tasks IN SHARE ROW EXCLUSIVE MODE;

CREATE FUNCTION count_task_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- The owner's first task makes the owner's counts.
        INSERT INTO task_counts AS counts (user_id, total, completed)
        VALUES (NEW.user_id, 1, NEW.completed::int)
        ON CONFLICT (user_id) DO UPDATE
            SET total = counts.total + 1, completed = counts.completed + excluded.completed;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE task_counts
        SET total = total - 1, completed = completed - OLD.completed::int
        WHERE user_id = OLD.user_id;
    ELSE
        UPDATE task_counts
        SET completed = completed + NEW.completed::int - OLD.completed::int
        WHERE user_id = NEW.user_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_counted
AFTER INSERT OR DELETE ON tasks
FOR EACH ROW EXECUTE FUNCTION count_task_change();

-- An update counts only when `completed` changes (a task never changes owner).
CREATE TRIGGER tasks_completion_counted
AFTER UPDATE OF completed ON tasks
FOR EACH ROW WHEN (OLD.completed IS DISTINCT FROM NEW.completed)
EXECUTE FUNCTION count_task_change();

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
-- same names; IF NOT EXISTS then skips them (docs/OPERATIONS.md).
CREATE INDEX IF NOT EXISTS tasks_user_updated_idx ON tasks (user_id, updated_at, id);
CREATE INDEX IF NOT EXISTS tasks_user_title_idx ON tasks (user_id, title, id);
CREATE INDEX IF NOT EXISTS tasks_user_completed_created_idx ON tasks (user_id, completed, created_at, id);
CREATE INDEX IF NOT EXISTS tasks_user_completed_updated_idx ON tasks (user_id, completed, updated_at, id);
CREATE INDEX IF NOT EXISTS tasks_user_completed_title_idx ON tasks (user_id, completed, title, id);
