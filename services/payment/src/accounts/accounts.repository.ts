import type { EntityManager } from 'typeorm';
import type { Account } from '../payments/payment.decide';
import { AccountEntity } from './account.entity';

/** Loads an account for update: concurrent orders of one customer take turns, so none overspends. */
export function lockAccount(manager: EntityManager, customerId: string): Promise<AccountEntity | null> {
  return manager.getRepository(AccountEntity).findOne({ where: { customerId }, lock: { mode: 'pessimistic_write' } });
}

export function accountOf(a: AccountEntity): Account {
  return { customerId: a.customerId, balance: Number(a.balance) };
}

/** Saves a balance the saga decided; an account that did not exist is (re)opened. */
export async function saveAccount(manager: EntityManager, loaded: AccountEntity | null, account: Account, now: Date): Promise<void> {
  const repo = manager.getRepository(AccountEntity);
  if (loaded) await repo.update({ customerId: account.customerId }, { balance: account.balance, updatedAt: now });
  else await repo.insert({ customerId: account.customerId, balance: account.balance, simulateGatewayError: false, updatedAt: now });
}
