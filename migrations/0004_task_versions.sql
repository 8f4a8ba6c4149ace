-- A version per task, raised by every write: the task's ETag, for conditional requests
-- (If-Match, If-None-Match). A constant default makes this instant on a populated
-- table (no rewrite): existing tasks start at version 1.
ALTER TABLE tasks ADD COLUMN version bigint NOT NULL DEFAULT 1;
