import { Body, Controller, Headers, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { parseRequest, requestCorrelationId, ProblemException } from '@app/platform';
import { ORDER_CONFIG, type OrderConfig } from '../../config';
import { toMajor } from '@app/contracts';
import { PlaceOrder, placeOrderSchema } from './place-order';

const idempotencyKeyPattern = /^[\x21-\x7e]{1,200}$/;

@Controller('api/orders')
export class PlaceOrderHttp {
  private readonly schema;

  constructor(
    private readonly placeOrder: PlaceOrder,
    @Inject(ORDER_CONFIG) config: OrderConfig,
  ) {
    this.schema = placeOrderSchema(config.maxOrderItems);
  }

  @Post()
  @HttpCode(202)
  async place(
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    if (idempotencyKey !== undefined && !idempotencyKeyPattern.test(idempotencyKey)) {
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
