-- Login throttling per (account, client address) and per client address
-- (shared/src/db/logins.rs). Keys are now '<account> from <address>', where the account
-- is 'user:<id>' or 'name:<sha256 of the lowercased identifier>', and
-- 'address:<address>'. A success takes its attempt back from the address's count, which
-- may so reach zero. Rows under the old keys would never be read again: they go (they
-- hold at most one window of failures).
DELETE FROM login_failures;
ALTER TABLE login_failures DROP CONSTRAINT login_failures_failures_check;
ALTER TABLE login_failures ADD CONSTRAINT login_failures_failures_check CHECK (failures >= 0);
