-- The services' databases on PostgreSQL; each service runs its own migrations at start.
-- Payment, Analytics and Notification live here by design. saga_order and saga_inventory are created too, so
-- that Order and Inventory can run on PostgreSQL (infra/docker/compose.postgres.yml).
-- Idempotent: CREATE DATABASE cannot run in a DO block, so psql's \gexec runs only the missing ones.
SELECT format('CREATE DATABASE %I', name)
FROM unnest(ARRAY['saga_payment', 'saga_analytics', 'saga_notification', 'saga_order', 'saga_inventory']) AS name
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = name)
\gexec
