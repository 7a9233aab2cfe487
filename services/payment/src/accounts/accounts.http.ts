import { Body, Controller, Get, Param, Put, UseGuards } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { z } from 'zod';
import { CURRENCY, majorAmount, toMajor, toMinor, customerIdPattern } from '@app/contracts';
import { dialectOf } from '@app/persistence';
import { AdminGuard, ApiOperation, notFound, parseRequest } from '@app/platform';
import { AccountEntity } from './account.entity';

export const customerIdParam = z.string().regex(customerIdPattern, '1-64 letters, digits and . _ @ - only');

const accountBody = z.object({ balance: majorAmount, simulateGatewayError: z.boolean().optional() }).strict();

/** The public shape of an account (money in major units). */
const accountView = z.object({ customerId: z.string(), balance: z.number(), currency: z.string(), simulateGatewayError: z.boolean() });

const view = (a: AccountEntity): z.output<typeof accountView> => ({
  customerId: a.customerId,
  balance: toMajor(Number(a.balance)),
  currency: CURRENCY,
  simulateGatewayError: a.simulateGatewayError,
});

@Controller('api/accounts')
export class AccountsHttp {
  constructor(private readonly dataSource: DataSource) {}

  @Get(':customerId')
  @ApiOperation({
    summary: "A customer's account: balance and currency",
    params: { customerId: customerIdParam },
    example: { params: { customerId: 'alice' } },
    responses: { 200: { description: 'The account', schema: accountView }, 404: 'No account for this customer' },
  })
  async get(@Param('customerId') customerId: string) {
    const id = parseRequest(customerIdParam, customerId, 'customerId');
    const account = await this.dataSource.getRepository(AccountEntity).findOneBy({ customerId: id });
    if (!account) throw notFound(`account ${id}`);
    return view(account);
  }

  /** Opens or tops up an account; the balance given replaces the one held. */
  @Put(':customerId')
  @UseGuards(AdminGuard)
  @ApiOperation({
    summary: 'Open or top up an account (admin); the balance given replaces the one held',
    params: { customerId: customerIdParam },
    body: accountBody,
    example: { params: { customerId: 'alice' }, body: { balance: 500 } },
    responses: { 200: { description: 'The account as stored', schema: accountView } },
  })
  async put(@Param('customerId') customerId: string, @Body() body: unknown) {
    const id = parseRequest(customerIdParam, customerId, 'customerId');
    const b = parseRequest(accountBody, body ?? null);
    // An omitted flag keeps the account's current one (false for a new account).
    const upsert = (m: EntityManager) =>
      m.getRepository(AccountEntity).upsert(
        {
          customerId: id,
          balance: toMinor(b.balance),
          updatedAt: new Date(),
          ...(b.simulateGatewayError !== undefined ? { simulateGatewayError: b.simulateGatewayError } : {}),
        },
        ['customerId'],
      );
    // PostgreSQL's ON CONFLICT is atomic; on SQL Server the upsert is a MERGE, atomic against a
    // concurrent PUT for the same new customer only under SERIALIZABLE (what MERGE's HOLDLOCK does).
    if (dialectOf(this.dataSource) === 'mssql') await this.dataSource.transaction('SERIALIZABLE', upsert);
    else await upsert(this.dataSource.manager);
    return view((await this.dataSource.getRepository(AccountEntity).findOneBy({ customerId: id }))!);
  }
}
