-- Development users. Safe to run again: existing users are left as they are.
INSERT INTO users (id, name) VALUES
    ('user_alice', 'Alice'),
    ('user_bob', 'Bob'),
    ('user_charlie', 'Charlie'),
    ('user_dave', 'Dave')
ON CONFLICT (id) DO NOTHING;
