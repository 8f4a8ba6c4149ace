-- Accounts created by /api/auth/signup and /api/v1/auth/register.
-- Uniqueness ignores case and is enforced here, so concurrent signups cannot both win;
-- the index names are what the code maps to "email/username already registered".
CREATE TABLE users (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text        NOT NULL CHECK (char_length(username) BETWEEN 3 AND 32),
    email         text        NOT NULL CHECK (char_length(email) <= 254 AND email = lower(email)),
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
