import 'reflect-metadata';
import { Parser } from 'node-sql-parser/build/transactsql';
import {
  Column,
  DataSource,
  Entity,
  LessThanOrEqual,
  MssqlParameter,
  PrimaryColumn,
  QueryResult,
  type ColumnType,
  type MigrationInterface,
  type QueryRunner,
} from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import { sqlServerDateColumns, transactionLockSql, type Dialect, type SqlSession } from '@app/persistence';
import { AnalyticsTables1763769600004 } from '../../services/analytics/src/migrations/1763769600004-analytics-tables';
import { ArchiveManifest1764633600000 } from '../../services/analytics/src/migrations/1764633600000-archive-manifest';
import { EventCountEntity } from '../../services/analytics/src/summary/event-count.entity';
import { OrderFactEntity } from '../../services/analytics/src/summary/order-fact.entity';
import { lockOrderFacts, orderFactsSql, writeOrderFacts } from '../../services/analytics/src/summary/order-facts.sql';
import { SummaryHttp } from '../../services/analytics/src/summary/summary.http';
import { summaryIsolation, summarySql } from '../../services/analytics/src/summary/summary.query';
import { InventoryTables1763769600003 } from '../../services/inventory/src/migrations/1763769600003-inventory-tables';
import { ReservationEntity } from '../../services/inventory/src/reservations/reservation.entity';
import { lockReservationsAndStock, orderLockName, reservationsSql, writeReservations } from '../../services/inventory/src/reservations/reservations.sql';
import { DemoStockSeed } from '../../services/inventory/src/stock/demo-stock.seed';
import { StockEntity } from '../../services/inventory/src/stock/stock.entity';
import { setAvailable, setAvailableSql } from '../../services/inventory/src/stock/stock.repository';
import { OrderTables1763769600001 } from '../../services/order/src/migrations/1763769600001-order-tables';
import { OrderListIndexes1764547200001 } from '../../services/order/src/migrations/1764547200001-order-list-indexes';
import { OrderTraceParent1764806400001 } from '../../services/order/src/migrations/1764806400001-order-trace-parent';
import { OrderEmail1765065600001 } from '../../services/order/src/migrations/1765065600001-order-email';
import { OrderEntity, OrderTimelineEntity } from '../../services/order/src/orders/order.entity';
import { lockOrders, ordersSql, writeOrders } from '../../services/order/src/orders/orders.sql';
import { insertOrders, ordersByKeys, placeOrdersSql } from '../../services/order/src/orders/place-order/place-orders.sql';
import { priceSql } from '../../services/order/src/products/price-cache';
import { ProductEntity } from '../../services/order/src/products/product.entity';
import { ProductsHttp } from '../../services/order/src/products/products.http';
import { AccountEntity } from '../../services/payment/src/accounts/account.entity';
import { AccountsHttp } from '../../services/payment/src/accounts/accounts.http';
import { PaymentTables1763769600002 } from '../../services/payment/src/migrations/1763769600002-payment-tables';
import { PaymentEntity } from '../../services/payment/src/payments/payment.entity';
import { lockPaymentsAndAccounts, paymentsSql, writePayments } from '../../services/payment/src/payments/payments.sql';
import { NotificationTables1765065600005 } from '../../services/notification/src/migrations/1765065600005-notification-tables';
import { NotificationEntity } from '../../services/notification/src/notifications/notification.entity';
import { lockDeliveries, notificationsSql, writeDeliveries } from '../../services/notification/src/notifications/notifications.sql';
import { appendToOutbox } from '@app/messaging';

/**
 * What the four services would send to SQL Server, built here without one: the entities'
 * metadata for the mssql driver, the SQL TypeORM generates for the repositories' own calls
 * (recorded by a query runner that answers instead of a server), the migrations, and the
 * hand-written statements. Every statement is checked for PostgreSQL-only syntax and, as far as
 * node-sql-parser's T-SQL grammar goes, parsed. None of it has run on a server.
 */

const entities = [
  OrderEntity,
  OrderTimelineEntity,
  ProductEntity,
  PaymentEntity,
  AccountEntity,
  StockEntity,
  ReservationEntity,
  OrderFactEntity,
  EventCountEntity,
  NotificationEntity,
];
const migrations: Array<new () => MigrationInterface> = [
  OrderTables1763769600001,
  OrderListIndexes1764547200001,
  OrderTraceParent1764806400001,
  OrderEmail1765065600001,
  PaymentTables1763769600002,
  InventoryTables1763769600003,
  AnalyticsTables1763769600004,
  ArchiveManifest1764633600000,
  NotificationTables1765065600005,
];

const orderId = '0b7d3c4e-5f6a-4b8c-9d0e-1f2a3b4c5d6e';
const occurredAt = '2025-11-22T10:00:01.250Z';

async function dataSource(type: 'mssql' | 'postgres', list: unknown[] = entities): Promise<DataSource> {
  const ds = new DataSource({ type, host: 'unused', entities: list as never });
  // initialize() would connect; buildMetadatas (protected) builds the metadata and validates it for the driver.
  await (ds as unknown as { buildMetadatas(): Promise<void> }).buildMetadatas();
  return ds;
}

/**
 * Proposed for libs/persistence (openDataSource, SQL Server only, after initialize): TypeORM's
 * mssql driver sends a `Date` column as `datetime` with its milliseconds cut off (and cuts them
 * off the entity's own Date object), a Create/UpdateDateColumn as datetime2 with a getdate()
 * default (local time, no offset). The columns are datetimeoffset.
 */

interface Sent {
  sql: string;
  params: unknown[];
}

/** A query runner that records what it is sent and answers from `answer` instead of a server. */
function recorder(ds: DataSource, answer: (sql: string) => unknown[] = () => []) {
  const sent: Sent[] = [];
  const qr = ds.createQueryRunner();
  Object.assign(qr, {
    isTransactionActive: true,
    connect: async () => undefined,
    query: async (sql: string, params: unknown[] = [], structured = false) => {
      sent.push({ sql, params });
      const rows = answer(sql);
      return structured ? Object.assign(new QueryResult(), { records: rows, raw: rows, affected: rows.length }) : rows;
    },
    startTransaction: async (level?: string) => {
      sent.push({ sql: `BEGIN TRANSACTION -- ${level ?? 'default'}`, params: [] });
    },
    commitTransaction: async () => undefined,
    rollbackTransaction: async () => undefined,
    release: async () => undefined,
  });
  // Whatever asks the DataSource for a runner (transaction(), a repository outside one) gets this one.
  ds.createQueryRunner = () => qr;
  return { manager: qr.manager, sent };
}

const granted = (sql: string) => (/sp_getapplock/.test(sql) ? [{ locked: 1 }] : []);

// ---------------------------------------------------------------------------------------------
// Checks on one statement

const pgOnly: Array<[string, RegExp]> = [
  ['jsonb', /\bjsonb\b/i],
  ['timestamptz', /\btimestamptz\b/i],
  ['::', /::/],
  ['now()', /\bnow\s*\(\)/i],
  ['bigserial', /\bbigserial\b/i],
  ['ON CONFLICT', /\bON\s+CONFLICT\b/i],
  ['RETURNING', /\bRETURNING\b/i],
  ['$n', /\$\d/],
  ['boolean', /\bboolean\b/i],
  ['uuid', /\buuid\b/i],
  ['FOR UPDATE', /\bFOR\s+UPDATE\b/i],
  ['pg_ functions', /\bpg_\w+\s*\(/i],
  ['hashtext', /\bhashtext\b/i],
  ['GREATEST (SQL Server 2022+)', /\bGREATEST\s*\(/i],
  ['EXTRACT(EPOCH', /\bEXTRACT\s*\(\s*EPOCH/i],
  ['EXCLUDED.', /\bEXCLUDED\./i],
  ['IF NOT EXISTS', /\bIF\s+NOT\s+EXISTS\b/i],
  ['LIMIT', /\bLIMIT\s+\d/i],
  ['true/false literals', /\b(true|false)\b/i],
  ['GO (a batch separator, not SQL)', /^\s*GO\s*$/im],
];

function postgresOnlyTokens(sql: string): string[] {
  return pgOnly.filter(([, re]) => re.test(sql)).map(([name]) => name);
}

const tsql = new Parser();

/**
 * Parses what node-sql-parser 5.4's T-SQL grammar can. It lacks MERGE, `EXEC @r = proc`,
 * INSERT's OUTPUT clause, FOREIGN KEY ... REFERENCES in CREATE TABLE and named DEFAULT
 * constraints: the last three are taken out before parsing (and their shape checked by the
 * tests that make them); MERGE and EXEC answer 'not parsed' and are checked by shape. So do
 * the constructs of the set-based statements it does not know: OPENJSON ... WITH (a typed
 * JSON array, how a batch's rows reach SQL Server), FOR JSON, table variables, cursors,
 * UPDATE of a CTE and OUTPUT ... INTO: checked by tokens and parameters only.
 */
function parseTsql(statement: string): 'parsed' | 'not parsed' {
  if (/^\s*MERGE\b/i.test(statement) || /\bEXEC\s+@\w+\s*=/i.test(statement)) return 'not parsed';
  if (/^\s*(DECLARE|OPEN|FETCH|WHILE|CLOSE|WITH)\b/i.test(statement) || /OPENJSON\(@\d+\)\s+WITH\s*\(/i.test(statement)) return 'not parsed';
  if (/\bFOR JSON\b|\bOUTPUT inserted\.\w+( INTO @\w+)?/i.test(statement) || /\bFROM @\w+|\bINTO @\w+|\bIN \(SELECT \w+ FROM @\w+\)/i.test(statement))
    return 'not parsed';
  const reduced = statement
    .replace(/,\s*CONSTRAINT \w+ FOREIGN KEY \([\w, ]+\) REFERENCES \w+ \([\w, ]+\)/g, '')
    .replace(/CONSTRAINT \w+ DEFAULT/g, 'DEFAULT')
    .replace(/ OUTPUT (INSERTED\."\w+"(, )?)+ INTO @OutputTable/g, '');
  tsql.astify(reduced, { database: 'transactsql' });
  return 'parsed';
}

/** TypeORM sends DECLARE; INSERT/MERGE; SELECT as one batch joined by ";\n\n". */
function statementsOf(batch: string): string[] {
  return batch
    .split(/;\s*\n\s*\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * The shape of a MERGE (not parsed): a source of VALUES or of a typed JSON array, both branches,
 * the terminator (taken off by statementsOf when the MERGE is not the batch's last statement).
 */
const mergeShape =
  /^MERGE (INTO )?\S+ (WITH \(HOLDLOCK\) )?(AS )?\S+\s+USING (\(VALUES \(.+\)\) (AS )?\S+ \([^)]+\)|OPENJSON\(@\d+\) WITH \(.+\) AS \w+) ON .+\s+WHEN (NOT )?MATCHED THEN .+;?$/s;

function checkSqlServerStatement(sql: string, params: unknown[]): void {
  expect(sql.trim()).not.toBe('');
  expect({ sql, postgresOnly: postgresOnlyTokens(sql) }).toEqual({ sql, postgresOnly: [] });
  // Bound parameters are @0..@n-1, each given.
  const used = [...new Set([...sql.matchAll(/@(\d+)\b/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
  expect({ sql, used }).toEqual({ sql, used: params.map((_, i) => i) });
  for (const statement of statementsOf(sql)) {
    if (parseTsql(statement) === 'not parsed' && /^\s*MERGE\b/i.test(statement)) expect(statement).toMatch(mergeShape);
  }
}

// ---------------------------------------------------------------------------------------------

describe('SQL Server: entities', () => {
  it('build and validate for the mssql driver (every column type is one SQL Server takes), and still for postgres', async () => {
    const mssql = await dataSource('mssql');
    expect(mssql.entityMetadatas.map((m) => m.tableName).sort()).toEqual([
      'accounts',
      'event_counts',
      'notifications',
      'order_facts',
      'order_timeline',
      'orders',
      'payments',
      'products',
      'reservations',
      'stock',
    ]);
    const postgres = await dataSource('postgres');
    expect(postgres.entityMetadatas).toHaveLength(entities.length);
  });

  it('would not build with the PostgreSQL-only type names they used to have (the check above is real)', async () => {
    for (const type of ['jsonb', 'timestamptz', 'boolean'] as ColumnType[]) {
      @Entity(`pg_only_${String(type)}`)
      class PgOnly {
        @PrimaryColumn({ type: 'int' }) id: number;
        @Column({ type }) value: unknown;
      }
      await expect(dataSource('mssql', [PgOnly])).rejects.toThrow(/not supported by "mssql"/);
      await expect(dataSource('postgres', [PgOnly])).resolves.toBeDefined();
    }
  });

  it('map each column to the SQL Server type its migration creates, and read bigint and JSON back as values', async () => {
    const ds = await dataSource('mssql');
    const pg = await dataSource('postgres');
    for (const m of ds.entityMetadatas) {
      for (const c of m.columns) {
        const type = ds.driver.normalizeType(c);
        expect({ column: `${m.tableName}.${c.databaseName}`, type }).toEqual({
          column: `${m.tableName}.${c.databaseName}`,
          type: expect.stringMatching(/^(varchar|bigint|int|bit|datetime|datetime2|ntext)$/),
        });
        if (c.type === 'bigint') {
          // tedious answers bigint as a string; the transformer makes it a number.
          expect(ds.driver.prepareHydratedValue('8900', c)).toBe(8900);
          expect(ds.driver.prepareHydratedValue(null, c)).toBeNull();
          expect(pg.driver.prepareHydratedValue(8900, pgColumn(pg, m.tableName, c.databaseName))).toBe(8900);
        }
        if (c.type === 'simple-json') {
          // SQL Server answers text; PostgreSQL's jsonb columns answer parsed JSON, passed through.
          expect(ds.driver.prepareHydratedValue('[{"sku":"KB-001","quantity":1}]', c)).toEqual([{ sku: 'KB-001', quantity: 1 }]);
          expect(pg.driver.prepareHydratedValue([{ sku: 'KB-001', quantity: 1 }], pgColumn(pg, m.tableName, c.databaseName))).toEqual([
            { sku: 'KB-001', quantity: 1 },
          ]);
          expect(ds.driver.preparePersistentValue([{ sku: 'KB-001' }], c)).toBe('[{"sku":"KB-001"}]');
        }
      }
    }
  });

  it('agree with the SQL Server migrations: every column, its type, its nullability and the primary keys', async () => {
    const ds = await dataSource('mssql');
    const tables = new Map<string, { columns: Map<string, { type: string; nullable: boolean }>; primaryKey: string[] }>();
    for (const sql of await migrationStatements('mssql', 'up')) {
      // A column added later: ALTER TABLE t ADD c type(length) [NOT] NULL.
      const added = /^\s*ALTER TABLE (\w+) ADD (\w+) (\w+)(\(\d+\))? (NOT NULL|NULL)\s*$/i.exec(sql);
      if (added) {
        tables.get(added[1]!)!.columns.set(added[2]!, { type: `${added[3]!.toLowerCase()}${added[4] ?? ''}`, nullable: added[5]!.toUpperCase() === 'NULL' });
        continue;
      }
      if (!/^\s*CREATE TABLE/i.test(sql)) continue;
      const ast = tsql.astify(
        sql.replace(/,\s*CONSTRAINT \w+ FOREIGN KEY \([\w, ]+\) REFERENCES \w+ \([\w, ]+\)/g, '').replace(/CONSTRAINT \w+ DEFAULT/g, 'DEFAULT'),
        { database: 'transactsql' },
      ) as unknown as CreateTableAst;
      const columns = new Map<string, { type: string; nullable: boolean }>();
      let primaryKey: string[] = [];
      for (const d of ast.create_definitions) {
        if (d.resource === 'column') {
          const length = d.definition.length === undefined ? '' : `(${d.definition.length})`;
          columns.set(d.column.column, { type: `${d.definition.dataType.toLowerCase()}${length}`, nullable: d.nullable?.type !== 'not null' });
        } else if (d.constraint_type === 'primary key') {
          primaryKey = d.definition.map((c) => c.column);
        }
      }
      tables.set(ast.table[0]!.table, { columns, primaryKey });
    }
    for (const m of ds.entityMetadatas) {
      const table = tables.get(m.tableName);
      expect(table).toBeDefined();
      expect([...table!.columns.keys()].sort()).toEqual(m.columns.map((c) => c.databaseName).sort());
      expect(table!.primaryKey).toEqual(m.primaryColumns.map((c) => c.databaseName));
      for (const c of m.columns) {
        expect({ column: `${m.tableName}.${c.databaseName}`, ...table!.columns.get(c.databaseName) }).toEqual({
          column: `${m.tableName}.${c.databaseName}`,
          type: sqlServerTypeOf(ds, c),
          nullable: c.isNullable,
        });
      }
    }
  });
});

describe('SQL Server: migrations', () => {
  it.each(['up', 'down'] as const)('%s: every statement is T-SQL (no PostgreSQL syntax, nvarchar for text, parsed or shaped)', async (direction) => {
    const statements = await migrationStatements('mssql', direction);
    expect(statements.length).toBeGreaterThan(0);
    for (const sql of statements) {
      checkSqlServerStatement(sql, []);
      expect(sql).not.toMatch(/(?<!n)varchar\(/i);
      expect(parseTsql(sql)).toBe('parsed');
    }
  });

  it('keep the foreign key, the filtered unique index for the optional Idempotency-Key, and JSON checks', async () => {
    const all = (await migrationStatements('mssql', 'up')).join('\n');
    expect(all).toMatch(/CONSTRAINT order_timeline_order_id_fkey FOREIGN KEY \(order_id\) REFERENCES orders \(id\)/);
    expect(all).toMatch(/CREATE UNIQUE INDEX orders_idempotency_key_key ON orders \(idempotency_key\) WHERE idempotency_key IS NOT NULL/);
    expect(all).not.toMatch(/idempotency_key nvarchar\(200\)[^,]*UNIQUE/);
    for (const [table, column] of [
      ['orders', 'items'],
      ['reservations', 'items'],
      ['reservations', 'shortages'],
    ]) {
      expect(all).toMatch(new RegExp(`CONSTRAINT ${table}_${column}_check CHECK \\((${column} IS NULL OR )?ISJSON\\(${column}\\) = 1\\)`));
    }
    expect(all).toMatch(/CONSTRAINT payments_refunded_amount_check CHECK \(refunded_amount >= 0 AND refunded_amount <= amount\)/);
    expect(all).toMatch(/id bigint IDENTITY\(1,1\) NOT NULL/);
  });

  it('on PostgreSQL still run the PostgreSQL statements (and the check above does see their syntax)', async () => {
    const statements = await migrationStatements('postgres', 'up');
    const all = statements.join('\n');
    for (const token of ['jsonb', 'timestamptz', 'now()', 'bigserial', 'boolean', 'uuid']) expect(postgresOnlyTokens(all)).toContain(token);
    expect(all).not.toMatch(/nvarchar|datetimeoffset|SYSDATETIMEOFFSET|IDENTITY/);
  });
});

describe('SQL Server: what the hot path sends (libs and services *.sql.ts)', () => {
  const now = new Date('2025-11-22T10:00:00.125Z');

  /** A session that records what it is sent, answering no rows. */
  function mssqlSession(): { session: SqlSession; sent: Sent[] } {
    const sent: Sent[] = [];
    const query = async <R>(sql: string, params: readonly unknown[] = []): Promise<R[]> => {
      sent.push({ sql, params: [...params] });
      return [];
    };
    return { sent, session: { dialect: 'mssql', query } };
  }

  it('every statement of every handler is spelled for SQL Server, with its parameters, and locks with UPDLOCK, ROWLOCK', async () => {
    const { session, sent } = mssqlSession();
    await lockOrders(session, [orderId]);
    await writeOrders(session, [], [{ orderId, type: 'PaymentAuthorized', source: 'payment', messageId: 'm-1', note: null, occurredAt: new Date(occurredAt) }]);
    await lockPaymentsAndAccounts(session, [orderId], ['alice']);
    await writePayments(
      session,
      [{ id: orderId, orderId, customerId: 'alice', amount: 1, currency: 'USD', status: 'AUTHORIZED', declineReason: null, refundedAmount: 0 }],
      [{ customerId: 'alice', balance: 99 }],
      now,
    );
    await lockReservationsAndStock(session, [orderId], ['KB-001']);
    await writeReservations(
      session,
      [{ id: orderId, orderId, status: 'RESERVED', items: [{ sku: 'KB-001', quantity: 1 }], shortages: null }],
      [{ sku: 'KB-001', available: 9, reserved: 1 }],
      now,
    );
    await lockOrderFacts(session, [orderId]);
    await writeOrderFacts(
      session,
      [{ orderId, customerId: 'alice', status: 'PENDING', total: 1, currency: 'USD', cancellationReason: null, placedAt: occurredAt, completedAt: null }],
      [{ type: 'OrderPlaced', count: 2, lastAt: new Date(occurredAt) }],
      now,
    );
    await insertOrders(
      session,
      [{ sku: 'KB-001', version: '2025-11-22T10:00:00.1234567+00:00' }],
      [
        {
          id: orderId,
          customerId: 'alice',
          total: 1,
          currency: 'USD',
          items: '[]',
          correlationId: orderId,
          idempotencyKey: null,
          requestHash: null,
          deadlineAt: now,
          createdAt: now,
          messageId: 'm-2',
          envelope: '{}',
          traceParent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
          email: 'alice@example.com',
        },
      ],
    );
    await ordersByKeys(session, ['k-1']);
    await lockDeliveries(session, [{ orderId, outcome: 'CONFIRMED' }]);
    await writeDeliveries(
      session,
      [
        {
          orderId,
          outcome: 'CONFIRMED',
          customerId: 'alice',
          recipient: 'alice@example.com',
          subject: 'Your order is confirmed',
          status: 'SENT',
          attempts: 1,
          lastError: null,
          messageId: `<${orderId}.confirmed@example.com>`,
          smtpResponse: '250 OK',
          correlationId: orderId,
          sentAt: now,
        },
      ],
      now,
    );
    expect(sent).toHaveLength(13);
    for (const s of sent) checkSqlServerStatement(s.sql, s.params);
    // Locking reads: every table read to be changed is read WITH (UPDLOCK, ROWLOCK).
    for (const table of ['orders', 'payments', 'accounts', 'reservations', 'stock', 'order_facts']) {
      expect(sent.some((s) => new RegExp(`FROM ${table}( \\w+)? WITH \\(UPDLOCK, ROWLOCK\\)`).test(s.sql))).toBe(true);
    }
    // A delivery record is locked by key range, so that a key without one yet stays locked too.
    expect(sent.find((s) => /FROM notifications n/.test(s.sql))!.sql).toMatch(/FROM notifications n WITH \(UPDLOCK, HOLDLOCK\)/);
    // The per-order locks are app locks, owned by the transaction, in order.
    expect(sent.find((s) => /sp_getapplock/.test(s.sql))!.sql).toMatch(/ORDER BY value[\s\S]*@LockOwner = 'Transaction'/);
    expect(sent.find((s) => /sp_getapplock/.test(s.sql))!.params).toEqual([JSON.stringify([orderLockName(orderId)])]);
    // An Idempotency-Key taken is skipped under a key-range lock, as ON CONFLICT does.
    expect(sent.find((s) => /INSERT INTO orders/.test(s.sql))!.sql).toMatch(/NOT EXISTS \(SELECT 1 FROM orders e WITH \(UPDLOCK, HOLDLOCK\)/);
  });

  it('the outbox and the price cache too', async () => {
    const { session, sent } = mssqlSession();
    await appendToOutbox(session, [
      { messageId: 'm', type: 'OrderPlaced', version: 1, occurredAt, correlationId: 'c', causationId: null, source: 'order', key: orderId, payload: {} },
    ]);
    sent.push({ sql: priceSql.load('mssql'), params: ['[]'] });
    for (const s of sent) checkSqlServerStatement(s.sql, s.params);
  });

  it('keeps each PostgreSQL statement one text, so that it is prepared once', () => {
    for (const sql of [
      ordersSql.lock('postgres'),
      ordersSql.write('postgres'),
      paymentsSql.lock('postgres'),
      paymentsSql.write('postgres'),
      reservationsSql.lock('postgres'),
      reservationsSql.write('postgres'),
      orderFactsSql.write('postgres'),
      placeOrdersSql.insert('postgres'),
      notificationsSql.lock('postgres'),
      notificationsSql.write('postgres'),
    ]) {
      expect(sql).not.toMatch(/@\d/);
      expect(sql).toMatch(/\$1\b/);
    }
  });
});

describe('SQL Server: what TypeORM sends off the hot path (admin endpoints, seeds, the deadline query)', () => {
  it('needs libs/persistence to map Date columns to datetimeoffset: as built, TypeORM sends datetime and drops the milliseconds', async () => {
    // A new Date each time: TypeORM's mssql driver cuts the milliseconds off the object it is given.
    const timeline = () => ({ orderId, type: 'OrderPlaced', source: 'order', messageId: 'm-1', note: null, occurredAt: new Date(occurredAt) });
    const asBuilt = await dataSource('mssql');
    const before = recorder(asBuilt);
    await before.manager.getRepository(OrderTimelineEntity).insert(timeline());
    expect(before.sent[0]!.params[5]).toMatchObject({ type: 'datetime', value: new Date('2025-11-22T10:00:01.000Z') });

    const fixed = await dataSource('mssql');
    sqlServerDateColumns(fixed);
    const after = recorder(fixed, granted);
    await after.manager.getRepository(OrderTimelineEntity).insert(timeline());
    await new DemoStockSeed(fixed, { seedDemoData: true } as never, { info: () => undefined } as never).onModuleInit();
    expect(after.sent[0]!.params[5]).toMatchObject({ type: 'datetimeoffset', value: new Date(occurredAt) });
    expect(
      after.sent.find((s) => /^DECLARE @OutputTable TABLE \("reserved" int, "updated_at" datetimeoffset\);\s+MERGE INTO "stock"/.test(s.sql))!.sql,
    ).toMatch(/SYSDATETIMEOFFSET\(\)/);
    for (const c of fixed.entityMetadatas.flatMap((m) => m.columns).filter((c) => c.type === 'datetimeoffset')) {
      expect(fixed.driver.prepareHydratedValue(new Date(occurredAt), c)).toEqual(new Date(occurredAt));
    }
  });

  it('the deadline query: typed parameters, paged with OFFSET/FETCH, no PostgreSQL syntax', async () => {
    const ds = await dataSource('mssql');
    const { manager, sent } = recorder(ds);
    const now = new Date('2025-11-22T10:00:00.125Z');
    await manager.getRepository(OrderEntity).find({
      select: { id: true, deadlineAt: true, correlationId: true },
      where: { status: 'PENDING', deadlineAt: LessThanOrEqual(now) },
      order: { deadlineAt: 'ASC' },
      take: 100,
    });
    for (const s of sent) checkSqlServerStatement(s.sql, s.params);
    expect((sent[0]!.params[0] as MssqlParameter).value).toBe('PENDING');
    expect(sent[0]!.sql).toMatch(/ORDER BY .* ASC OFFSET 0 ROWS FETCH NEXT 100 ROWS ONLY$/);
  });
});

describe('SQL Server: the hand-written statements, both spellings', () => {
  const cases: Array<{ name: string; build: (d: Dialect) => Sent; postgres: string }> = [
    {
      name: 'stock: set available (upsert returning the row)',
      build: (d) => setAvailableSql(d, 'KB-001', 7),
      postgres: `INSERT INTO stock (sku, available, reserved, updated_at) VALUES ($1, $2, 0, now())
     ON CONFLICT (sku) DO UPDATE SET available = EXCLUDED.available, updated_at = now() WHERE stock.reserved::bigint + EXCLUDED.available <= 2147483647
     RETURNING sku, available, reserved`,
    },
    {
      name: 'summary: orders by status',
      build: (d) => summarySql.byStatus(d),
      postgres: 'SELECT status, count(*) AS n FROM order_facts GROUP BY status ORDER BY status',
    },
    {
      name: 'summary: revenue',
      build: (d) => summarySql.revenue(d, 'USD'),
      postgres: "SELECT COALESCE(sum(total), 0)::bigint AS minor FROM order_facts WHERE status = 'CONFIRMED' AND currency = $1",
    },
    {
      name: 'summary: cancellation reasons',
      build: (d) => summarySql.reasons(d),
      postgres:
        "SELECT cancellation_reason AS reason, count(*) AS n FROM order_facts WHERE status = 'CANCELLED' AND cancellation_reason IS NOT NULL GROUP BY cancellation_reason ORDER BY cancellation_reason",
    },
    {
      name: 'summary: saga durations',
      build: (d) => summarySql.durations(d),
      postgres: `
    SELECT count(*) AS n,
           percentile_cont(0.50) WITHIN GROUP (ORDER BY ms) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS p95,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
      FROM (SELECT (EXTRACT(EPOCH FROM (completed_at - placed_at)) * 1000)::float8 AS ms
              FROM order_facts
             WHERE status IN ('CONFIRMED', 'CANCELLED') AND placed_at IS NOT NULL AND completed_at IS NOT NULL) AS d`,
    },
    { name: 'summary: events by type', build: (d) => summarySql.events(d), postgres: 'SELECT type, count FROM event_counts ORDER BY type' },
    {
      name: 'inventory: the per-order lock (libs/persistence)',
      build: (d) => transactionLockSql(d, orderLockName(orderId), true),
      postgres: 'SELECT pg_advisory_xact_lock($1) IS NOT NULL AS locked',
    },
  ];

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    expect(c.build('postgres').sql).toBe(c.postgres);
    const { sql, params } = c.build('mssql');
    checkSqlServerStatement(sql, params);
    if (/^\s*MERGE/.test(sql)) expect(sql).toMatch(/^MERGE \w+ WITH \(HOLDLOCK\) AS /);
  });

  it('setAvailable answers the row OUTPUT gives', async () => {
    const ds = await dataSource('mssql');
    const { manager, sent } = recorder(ds, () => [{ sku: 'KB-001', available: 7, reserved: 2 }]);
    await expect(setAvailable(manager, 'KB-001', 7)).resolves.toEqual({ sku: 'KB-001', available: 7, reserved: 2 });
    expect(sent[0]!.sql).toMatch(/OUTPUT inserted\.sku, inserted\.available, inserted\.reserved;$/);
  });
});

describe('SQL Server: HTTP and start-up paths', () => {
  it('the summary reads in READ COMMITTED (REPEATABLE READ on PostgreSQL) and turns bigint strings into numbers', async () => {
    expect(summaryIsolation('postgres')).toBe('REPEATABLE READ');
    const ds = await dataSource('mssql');
    const { sent } = recorder(ds, (sql) => {
      if (/GROUP BY status/.test(sql))
        return [
          { status: 'CONFIRMED', n: 2 },
          { status: 'CANCELLED', n: 1 },
        ];
      if (/AS minor/.test(sql)) return [{ minor: '17800' }];
      if (/AS reason/.test(sql)) return [{ reason: 'TIMEOUT', n: 1 }];
      if (/PERCENTILE_CONT/.test(sql)) return [{ n: 3, p50: 1250, p95: 1900.5, p99: 1990.1 }];
      if (/FROM event_counts/.test(sql)) return [{ type: 'OrderPlaced', count: '3' }];
      return [];
    });
    const now = new Date('2025-11-22T12:00:00.000Z');
    const summary = await new SummaryHttp(ds, { now: () => now } as never).summary();
    expect(sent[0]!.sql).toBe('BEGIN TRANSACTION -- READ COMMITTED');
    expect(summary).toEqual({
      ordersByStatus: { PENDING: 0, CONFIRMED: 2, CANCELLED: 1 },
      revenue: { amount: 178, currency: 'USD' },
      cancellationReasons: { TIMEOUT: 1 },
      sagaDurationMs: { count: 3, p50: 1250, p95: 1901, p99: 1990 },
      eventsByType: { OrderPlaced: 3 },
      generatedAt: now.toISOString(),
    });
  });

  it('with no finished order, the summary answers count 0 and no percentiles (SQL Server answers no row)', async () => {
    const ds = await dataSource('mssql');
    recorder(ds, (sql) => (/AS minor/.test(sql) ? [{ minor: '0' }] : []));
    const summary = await new SummaryHttp(ds, { now: () => new Date() } as never).summary();
    expect(summary.sagaDurationMs).toEqual({ count: 0, p50: null, p95: null, p99: null });
  });

  it('PUT a product / an account and the demo stock seed upsert in SERIALIZABLE (atomic MERGE), and read money back as numbers', async () => {
    const ds = await dataSource('mssql');
    const updatedAt = new Date('2025-11-22T10:00:00.000Z');
    const { sent } = recorder(ds, (sql) => {
      if (/^SELECT .* FROM "products"/.test(sql))
        return [{ ProductEntity_sku: 'KB-001', ProductEntity_name: 'Keyboard', ProductEntity_unit_price: '1234', ProductEntity_updated_at: updatedAt }];
      if (/^SELECT .* FROM "accounts"/.test(sql))
        return [
          {
            AccountEntity_customer_id: 'alice',
            AccountEntity_balance: '5000',
            AccountEntity_simulate_gateway_error: false,
            AccountEntity_updated_at: updatedAt,
          },
        ];
      if (/COUNT\(1\)/.test(sql)) return [{ cnt: 0 }];
      return [];
    });
    await expect(new ProductsHttp(ds, { forget: () => undefined } as never).put('KB-001', { name: 'Keyboard', unitPrice: 12.34 })).resolves.toEqual({
      sku: 'KB-001',
      name: 'Keyboard',
      unitPrice: 12.34,
      updatedAt: updatedAt.toISOString(),
    });
    await expect(new AccountsHttp(ds).put('alice', { balance: 50 })).resolves.toEqual({
      customerId: 'alice',
      balance: 50,
      currency: 'USD',
      simulateGatewayError: false,
    });
    await new DemoStockSeed(ds, { seedDemoData: true } as never, { info: () => undefined } as never).onModuleInit();

    const merges = sent.map((s, i) => ({ ...s, i })).filter((s) => /MERGE INTO "(products|accounts|stock)"/.test(s.sql));
    expect(merges).toHaveLength(3);
    for (const m of merges) {
      expect(sent[m.i - 1]!.sql).toBe('BEGIN TRANSACTION -- SERIALIZABLE');
      checkSqlServerStatement(m.sql, m.params);
    }
    expect(merges[2]!.sql).toMatch(/WHEN NOT MATCHED THEN INSERT/);
    expect(merges[2]!.sql).not.toMatch(/WHEN MATCHED THEN/);
    const product = await ds.manager.getRepository(ProductEntity).findOneBy({ sku: 'KB-001' });
    expect(product!.unitPrice).toBe(1234);
  });
});

// ---------------------------------------------------------------------------------------------

async function migrationStatements(type: 'mssql' | 'postgres', direction: 'up' | 'down'): Promise<string[]> {
  const recorded: string[] = [];
  const q = { connection: { options: { type } }, query: async (sql: string) => void recorded.push(sql) } as unknown as QueryRunner;
  for (const M of direction === 'up' ? migrations : [...migrations].reverse()) await new M()[direction](q);
  return recorded;
}

function pgColumn(pg: DataSource, table: string, column: string): ColumnMetadata {
  return pg.entityMetadatas.find((m) => m.tableName === table)!.columns.find((c) => c.databaseName === column)!;
}

/** The SQL Server column type an entity column's values need. */
function sqlServerTypeOf(ds: DataSource, c: ColumnMetadata): string {
  const type = ds.driver.normalizeType(c);
  if (type === 'varchar') return `nvarchar(${c.length})`;
  if (type === 'ntext') return 'nvarchar(max)'; // simple-json
  if (type === 'datetime' || type === 'datetime2') return 'datetimeoffset';
  return type;
}

interface CreateTableAst {
  table: Array<{ table: string }>;
  create_definitions: Array<
    | {
        resource: 'column';
        column: { column: string };
        definition: { dataType: string; length?: number | string };
        nullable?: { type: string };
        constraint_type?: undefined;
      }
    | { resource: 'constraint'; constraint_type: string; definition: Array<{ column: string }> }
  >;
}
