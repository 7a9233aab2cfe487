import { Controller, Get, Param, Query } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { customerIdPattern } from '@app/contracts';
import { ApiOperation, decodeCursor, notFound, pageOf, pageQuery, pageSchema, parseRequest } from '@app/platform';
import { OrderEntity, OrderTimelineEntity } from '../order.entity';
import { orderView, orderViewSchema } from '../order.view';

export const orderIdParam = z.string().uuid('must be a UUID');

const listQuery = z
  .object({
    status: z.enum(['PENDING', 'CANCELLING', 'CONFIRMED', 'CANCELLED']).optional(),
    customerId: z.string().regex(customerIdPattern, '1-64 letters, digits and . _ @ - only').optional(),
    ...pageQuery,
  })
  .strict();

@Controller('api/orders')
export class GetOrderHttp {
  constructor(private readonly dataSource: DataSource) {}

  @Get(':id')
  @ApiOperation({
    summary: "An order: status, items, total, and the saga's timeline",
    params: { id: orderIdParam },
    example: { params: { id: '3f0c9a52-8d7e-4b1a-9c55-2e6f1d0b7a34' } },
    responses: { 200: { description: 'The order, with its timeline', schema: orderViewSchema }, 404: 'No such order' },
  })
  async get(@Param('id') id: string) {
    const orderId = parseRequest(orderIdParam, id, 'id');
    const order = await this.dataSource.getRepository(OrderEntity).findOneBy({ id: orderId });
    if (!order) throw notFound(`order ${orderId}`);
    const timeline = await this.dataSource.getRepository(OrderTimelineEntity).find({ where: { orderId }, order: { id: 'ASC' } });
    return orderView(order, timeline);
  }

  /** Newest first, one page at a time; each filter has an index that starts with it. */
  @Get()
  @ApiOperation({
    summary: 'Orders, newest first, a page at a time',
    query: listQuery,
    example: { query: { status: 'CONFIRMED', customerId: 'alice', limit: '20' } },
    responses: { 200: { description: 'A page of orders (without their timelines)', schema: pageSchema(orderViewSchema) } },
  })
  async list(@Query() query: unknown) {
    const q = parseRequest(listQuery, query);
    const qb = this.dataSource.getRepository(OrderEntity).createQueryBuilder('o');
    if (q.status) qb.andWhere('o.status = :status', { status: q.status });
    if (q.customerId) qb.andWhere('o.customerId = :customerId', { customerId: q.customerId });
    if (q.cursor) {
      const [createdAt, id] = decodeCursor(q.cursor, ['date', 'string']) as [string, string];
      const at = new Date(createdAt);
      // (created_at, id) < (cursor), spelled for both dialects (SQL Server has no row comparison).
      qb.andWhere('(o.createdAt < :at OR (o.createdAt = :at AND o.id < :id))', { at, id });
    }
    const rows = await qb
      .orderBy('o.createdAt', 'DESC')
      .addOrderBy('o.id', 'DESC')
      .take(q.limit + 1)
      .getMany();
    return pageOf(
      rows,
      q.limit,
      (o) => [o.createdAt.toISOString(), o.id],
      (o) => orderView(o),
    );
  }
}
