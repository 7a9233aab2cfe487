import { Controller, Get, Query } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { declineReasonSchema, toMajor } from '@app/contracts';
import { ApiOperation, parseRequest, decodeCursor, pageOf, pageQuery, pageSchema } from '@app/platform';
import { customerIdParam } from '../accounts/accounts.http';
import { PaymentEntity } from './payment.entity';

const listQuery = z
  .object({
    orderId: z.string().uuid('must be a UUID').optional(),
    customerId: customerIdParam.optional(),
    ...pageQuery,
  })
  .strict()
  .refine((q) => q.orderId !== undefined || q.customerId !== undefined, { path: ['orderId'], message: 'orderId or customerId is required' });

/** The public shape of a payment (money in major units). */
const paymentView = z.object({
  paymentId: z.string(),
  orderId: z.string(),
  customerId: z.string().nullable(),
  amount: z.number(),
  currency: z.string().nullable(),
  status: z.enum(['AUTHORIZED', 'DECLINED', 'REFUNDED', 'VOIDED']),
  declineReason: declineReasonSchema.nullable(),
  refundedAmount: z.number(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

const view = (p: PaymentEntity): z.output<typeof paymentView> => ({
  paymentId: p.id,
  orderId: p.orderId,
  customerId: p.customerId,
  amount: toMajor(Number(p.amount)),
  currency: p.currency,
  status: p.status,
  declineReason: p.declineReason,
  refundedAmount: toMajor(Number(p.refundedAmount)),
  createdAt: p.createdAt.toISOString(),
  updatedAt: p.updatedAt.toISOString(),
});

@Controller('api/payments')
export class PaymentsHttp {
  constructor(private readonly dataSource: DataSource) {}

  @Get()
  @ApiOperation({
    summary: "An order's or a customer's payments, newest first, a page at a time (orderId or customerId is required)",
    query: listQuery,
    example: { query: { customerId: 'alice' } },
    responses: { 200: { description: 'A page of payments', schema: pageSchema(paymentView) } },
  })
  async list(@Query() query: unknown) {
    const q = parseRequest(listQuery, query);
    const qb = this.dataSource.getRepository(PaymentEntity).createQueryBuilder('p');
    if (q.orderId) qb.andWhere('p.orderId = :orderId', { orderId: q.orderId });
    if (q.customerId) qb.andWhere('p.customerId = :customerId', { customerId: q.customerId });
    if (q.cursor) {
      const [createdAt, id] = decodeCursor(q.cursor, ['date', 'string']) as [string, string];
      const at = new Date(createdAt);
      qb.andWhere('(p.createdAt < :at OR (p.createdAt = :at AND p.id < :id))', { at, id });
    }
    const rows = await qb
      .orderBy('p.createdAt', 'DESC')
      .addOrderBy('p.id', 'DESC')
      .take(q.limit + 1)
      .getMany();
    return pageOf(rows, q.limit, (p) => [p.createdAt.toISOString(), p.id], view);
  }
}
