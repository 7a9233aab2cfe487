import { Body, Controller, Headers, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { ApiOperation, parseRequest, requestCorrelationId, ProblemException } from '@app/platform';
import { ORDER_CONFIG, type OrderConfig } from '../../config';
import { toMajor } from '@app/contracts';
import { PlaceOrder, placeOrderSchema } from './place-order';

const idempotencyKeyHeader = z
  .string()
  .regex(/^[\x21-\x7e]{1,200}$/, '1-200 visible ASCII characters')
  .optional();

const placedOrder = z.object({
  orderId: z.uuid(),
  status: z.enum(['PENDING', 'CANCELLING', 'CONFIRMED', 'CANCELLED']),
  total: z.number(),
  currency: z.string(),
});

@Controller('api/orders')
export class PlaceOrderHttp {
  readonly schema;

  constructor(
    private readonly placeOrder: PlaceOrder,
    @Inject(ORDER_CONFIG) config: OrderConfig,
  ) {
    this.schema = placeOrderSchema(config.maxOrderItems);
  }

  @Post()
  @HttpCode(202)
  @ApiOperation<PlaceOrderHttp>({
    summary: 'Place an order',
    description:
      'Prices the items and stores the order PENDING; the saga decides it later (read it at Location). The same Idempotency-Key with the same body returns the first order with `Idempotent-Replayed: true`.',
    headers: { 'Idempotency-Key': idempotencyKeyHeader },
    body: (self) => self.schema,
    example: {
      headers: { 'Idempotency-Key': 'checkout-7f41c2' },
      body: { customerId: 'alice', items: [{ sku: 'KB-001', quantity: 1 }], email: 'alice@example.com' },
    },
    responses: {
      202: { description: 'Accepted: the order (PENDING, or its current status on a replay); `Location` names it', schema: placedOrder },
      422: 'An unknown SKU, a total above the maximum, or the Idempotency-Key reused with another body',
    },
  })
  async place(
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    if (!idempotencyKeyHeader.safeParse(idempotencyKey).success) {
      throw new ProblemException(400, 'Request validation failed', 'Idempotency-Key must be 1-200 visible ASCII characters', {
        errors: [{ field: 'Idempotency-Key', message: '1-200 visible ASCII characters' }],
      });
    }
    const request = parseRequest(this.schema, body ?? null);
    const { order, replayed } = await this.placeOrder.execute(request, { idempotencyKey, correlationId: requestCorrelationId(req) });
    res.setHeader('Location', `/api/orders/${order.id}`);
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    return { orderId: order.id, status: order.status, total: toMajor(Number(order.total)), currency: order.currency };
  }
}
