-- Order's and Inventory's databases on SQL Server; each service runs its own migrations at start.
-- Idempotent: only missing databases are created.
IF DB_ID(N'saga_order') IS NULL CREATE DATABASE saga_order;
GO
IF DB_ID(N'saga_inventory') IS NULL CREATE DATABASE saga_inventory;
GO
