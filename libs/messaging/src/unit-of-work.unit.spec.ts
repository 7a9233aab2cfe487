import type { SqlDatabase, SqlSession } from '@app/persistence';
import { UnitOfWork } from './unit-of-work';

/** A database whose transactions commit, or fail at the commit; no statement runs (nothing is sent). */
function database(commit: 'commits' | 'fails'): SqlDatabase {
  const session = { dialect: 'postgres', query: async () => [] } as unknown as SqlSession;
  return {
    dialect: 'postgres',
    query: async () => [],
    transaction: async (work) => {
      const value = await work(session);
      if (commit === 'fails') throw new Error('could not serialize access');
      return value;
    },
  } as SqlDatabase;
}

describe('unit of work: after commit', () => {
  const dispatcher = { dispatch: () => undefined };

  it('runs the callbacks once the transaction committed, in order', async () => {
    const order: string[] = [];
    const uow = new UnitOfWork(database('commits'), dispatcher);
    await uow.run(async (tx) => {
      tx.afterCommit(() => order.push('first'));
      tx.afterCommit(() => order.push('second'));
      order.push('work');
    });
    expect(order).toEqual(['work', 'first', 'second']);
  });

  it('never runs them when the transaction rolls back', async () => {
    const ran = jest.fn();
    const uow = new UnitOfWork(database('fails'), dispatcher);
    await expect(uow.run(async (tx) => tx.afterCommit(ran))).rejects.toThrow('could not serialize');
    expect(ran).not.toHaveBeenCalled();
  });

  it('answers the committed work even if a callback throws (reported as a warning)', async () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const uow = new UnitOfWork(database('commits'), dispatcher);
    const after = jest.fn();
    await expect(
      uow.run(async (tx) => {
        tx.afterCommit(() => {
          throw new Error('boom');
        });
        tx.afterCommit(after);
        return 42;
      }),
    ).resolves.toBe(42);
    expect(after).toHaveBeenCalled();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('boom'));
    warn.mockRestore();
  });
});
