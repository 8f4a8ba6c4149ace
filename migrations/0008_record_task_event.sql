-- The event of one task change, in one place (TASK_EVENTS=outbox; docs/EVENTS.md).
-- Each task write calls it from its own RETURNING clause when events are on (its source
-- parameter is not null), so the change and its event are still one statement and
-- commit together or not at all; a write that changes no row calls it for no row.
--
-- `task` is the row as the API shows it after the change (before it, for a delete).
-- The payload is a CloudEvents 1.0 envelope whose `data` is that task, timestamps as the
-- API writes them (RFC 3339, UTC, microseconds).
--
-- Then it prunes events past their retention, oldest first, a hundred at a time. It is
-- written so that no plan reads the whole table, whatever the planner believes (a young
-- table without statistics: that a third of its rows expired): `ORDER BY created_at`
-- walks the created_at index and `ctid = ANY (ARRAY(...))` deletes just those rows by
-- TID. shared/tests/database.rs checks the plan.
CREATE FUNCTION record_task_event(task tasks, event_type text, source text, retention_days integer)
RETURNS void
LANGUAGE sql
VOLATILE
BEGIN ATOMIC
    INSERT INTO task_events (id, aggregatetype, aggregateid, type, payload)
    SELECT event.id, 'task', task.id::text, event_type, jsonb_build_object(
        'specversion', '1.0',
        'id', event.id,
        'source', source,
        'type', event_type,
        'subject', task.user_id,
        'time', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'datacontenttype', 'application/json',
        'data', jsonb_build_object(
            'id', task.id,
            'user_id', task.user_id,
            'title', task.title,
            'description', task.description,
            'completed', task.completed,
            'created_at', to_char(task.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'updated_at', to_char(task.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
    FROM (SELECT gen_random_uuid() AS id) AS event;

    DELETE FROM task_events
    WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM task_events
        WHERE created_at < now() - make_interval(days => retention_days)
        ORDER BY created_at
        LIMIT 100));
END;
