import { Controller, Get, Query } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { toMajor } from '@app/contracts';
import { parseRequest } from '@app/platform';
import { customerIdParam } from '../accounts/accounts.http';
import { PaymentEntity } from './payment.entity';

const listQuery = z
  .object({
    orderId: z.string().uuid('must be a UUID').optional(),
    customerId: customerIdParam.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .refine((q) => q.orderId !== undefined || q.customerId !== undefined, { path: ['orderId'], message: 'orderId or customerId is required' });

/** The public shape of a payment (money in major units). */
const view = (p: PaymentEntity) => ({
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
  async list(@Query() query: unknown) {
    const q = parseRequest(listQuery, query);
    const payments = await this.dataSource.getRepository(PaymentEntity).find({
      where: { ...(q.orderId ? { orderId: q.orderId } : {}), ...(q.customerId ? { customerId: q.customerId } : {}) },
      order: { createdAt: 'DESC' },
      take: q.limit,
    });
    return { items: payments.map(view) };
  }
}
