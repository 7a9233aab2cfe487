import type { SqlDatabase, SqlSession } from '@app/persistence';

/**
 * The database, except that inside a transaction the first statement containing `statement`
 * fails as a lost connection would: the way to make one batch's commit fail after its handlers
 * ran. `failed()` tells whether it has (a test that never reached it proves nothing).
 */
export function failingOnce(db: SqlDatabase, statement: string): SqlDatabase & { failed(): boolean } {
  let pending = true;
  return {
    dialect: db.dialect,
    query: (...args) => db.query(...args),
    transaction: (work) =>
      db.transaction((s) =>
        work({
          dialect: s.dialect,
          query: ((text: string, params?: readonly unknown[], options?: { prepare?: boolean }) => {
            if (pending && text.includes(statement)) {
              pending = false;
              return Promise.reject(new Error('connection lost'));
            }
            return s.query(text, params, options);
          }) as SqlSession['query'],
        }),
      ),
    failed: () => !pending,
  };
}
