import { Controller, Get, Param, Query } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { notFound, parseRequest } from '@app/platform';
import { OrderEntity, OrderTimelineEntity } from '../order.entity';
import { orderView } from '../order.view';

export const orderIdParam = z.string().uuid('must be a UUID');

const listQuery = z.object({
  status: z.enum(['PENDING', 'CANCELLING', 'CONFIRMED', 'CANCELLED']).optional(),
  customerId: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

@Controller('api/orders')
export class GetOrderHttp {
  constructor(private readonly dataSource: DataSource) {}

  @Get(':id')
  async get(@Param('id') id: string) {
    const orderId = parseRequest(orderIdParam, id, 'id');
    const order = await this.dataSource.getRepository(OrderEntity).findOneBy({ id: orderId });
    if (!order) throw notFound(`order ${orderId}`);
    const timeline = await this.dataSource.getRepository(OrderTimelineEntity).find({ where: { orderId }, order: { id: 'ASC' } });
    return orderView(order, timeline);
  }

  @Get()
  async list(@Query() query: unknown) {
    const q = parseRequest(listQuery, query);
    const orders = await this.dataSource.getRepository(OrderEntity).find({
      where: { ...(q.status ? { status: q.status } : {}), ...(q.customerId ? { customerId: q.customerId } : {}) },
      order: { createdAt: 'DESC' },
      take: q.limit,
    });
    return { items: orders.map((o) => orderView(o)), count: orders.length };
  }
}
