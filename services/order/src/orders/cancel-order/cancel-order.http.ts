import { Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { createEnvelope } from '@app/contracts';
import { UnitOfWork } from '@app/messaging';
import { ApiOperation, conflict, notFound, parseRequest, requestCorrelationId } from '@app/platform';
import { OrderSagaHandlers, SERVICE, type CancelRequested } from '../../saga/order-saga.handlers';
import { orderIdParam } from '../get-order/get-order.http';
import { orderView, orderViewSchema } from '../order.view';

/**
 * A customer's cancel is a saga input like any message: decided, recorded in the timeline, and
 * its compensations sent through the outbox in the same commit. A cancel the saga refuses is
 * answered 409 and stores nothing: like every refused request, it leaves no trace but the log.
 */
@Controller('api/orders')
export class CancelOrderHttp {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly saga: OrderSagaHandlers,
  ) {}

  @Post(':id/cancel')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Cancel an order',
    description: 'The saga cancels it and compensates (refund, release); the order is CANCELLED once every compensation has answered.',
    params: { id: orderIdParam },
    example: { params: { id: '3f0c9a52-8d7e-4b1a-9c55-2e6f1d0b7a34' } },
    responses: {
      202: { description: 'Accepted: the order as it now is', schema: orderViewSchema },
      404: 'No such order',
      409: 'The order is already CANCELLING or CANCELLED; the problem carries `orderStatus`',
    },
  })
  async cancel(@Param('id') id: string, @Req() req: Request) {
    const orderId = parseRequest(orderIdParam, id, 'id');
    const correlationId = requestCorrelationId(req);
    const request = {
      ...createEnvelope({ type: 'CancelRequested', key: orderId, source: SERVICE, payload: { orderId }, ...(correlationId ? { correlationId } : {}) }),
      type: 'CancelRequested',
    } as CancelRequested;
    const order = await this.uow.run(async (tx) => {
      const [decided] = await this.saga.apply(tx, [request]);
      // Thrown inside the transaction, so the refusal's timeline note is rolled back with it.
      if (!decided.order) throw notFound(`order ${orderId}`);
      if (!decided.accepted) throw conflict(`order ${orderId} cannot be cancelled: ${decided.why}`, { status: 409, orderStatus: decided.order.status });
      return decided.order;
    });
    return orderView(order);
  }
}
