import type { DataSource, ValueTransformer } from 'typeorm';

/**
 * A `bigint` column read as a JS number on both databases. PostgreSQL's driver parses int8
 * (`parseInt8`); SQL Server's (tedious) returns bigint as a string. The values kept in bigint
 * columns (money in minor units, counts, ids) stay far below 2^53, so a number is exact.
 */
export const bigintNumber: ValueTransformer = {
  to: (value: unknown) => value,
  from: (value: unknown) => (value === null || value === undefined ? value : Number(value)),
};

/**
 * Entities leave their date columns' type to TypeORM so they stay portable, and TypeORM's SQL
 * Server default for a Date is `datetime`, which rounds to 1/300 s and drops the offset. On SQL
 * Server every date column becomes `datetimeoffset` (as the migrations create them), and
 * create/update dates default to SYSDATETIMEOFFSET().
 */
export function sqlServerDateColumns(ds: DataSource): void {
  for (const column of ds.entityMetadatas.flatMap((m) => m.columns)) {
    if (column.type === Date || column.type === 'datetime' || column.type === 'datetime2') column.type = 'datetimeoffset';
    if (column.isCreateDate || column.isUpdateDate) column.default = () => 'SYSDATETIMEOFFSET()';
  }
}
