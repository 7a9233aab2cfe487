import { Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { createEnvelope } from '@app/contracts';
import { UnitOfWork } from '@app/messaging';
import { conflict, notFound, parseRequest, requestCorrelationId } from '@app/platform';
import { OrderSagaHandlers, SERVICE } from '../../saga/order-saga.handlers';
import { orderIdParam } from '../get-order/get-order.http';
import { orderView } from '../order.view';

/**
 * A customer's cancel is a saga input like any message: recorded in the timeline, decided,
 * and its compensations sent through the outbox in the same commit.
 */
@Controller('api/orders')
export class CancelOrderHttp {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly saga: OrderSagaHandlers,
  ) {}

  @Post(':id/cancel')
  @HttpCode(202)
  async cancel(@Param('id') id: string, @Req() req: Request) {
    const orderId = parseRequest(orderIdParam, id, 'id');
    const result = await this.uow.run(async (tx) => {
      const request = createEnvelope({
        type: 'CancelRequested',
        key: orderId,
        source: SERVICE,
        payload: { orderId },
        ...(requestCorrelationId(req) ? { correlationId: requestCorrelationId(req) } : {}),
      });
      return this.saga.apply(tx, orderId, { type: 'CancelRequested' }, request);
    });
    if (!result.order) throw notFound(`order ${orderId}`);
    if (!result.accepted) throw conflict(`order ${orderId} cannot be cancelled: ${result.why}`, { status: 409, orderStatus: result.order.status });
    return orderView(result.order);
  }
}
