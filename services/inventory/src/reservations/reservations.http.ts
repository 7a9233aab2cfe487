import { Controller, Get, Query } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { ApiOperation, parseRequest } from '@app/platform';
import { ReservationEntity } from './reservation.entity';

const listQuery = z.object({
  // A repeated ?orderId= arrives as an array: say so rather than "required".
  orderId: z.string({ error: (i) => (i.input === undefined ? 'required' : 'must be one UUID') }).uuid('must be a UUID'),
});

const view = (r: ReservationEntity) => ({
  reservationId: r.id,
  orderId: r.orderId,
  status: r.status,
  items: r.items,
  shortages: r.shortages,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

@Controller('api/reservations')
export class ReservationsHttp {
  constructor(private readonly dataSource: DataSource) {}

  /** An order's reservation (at most one), as a list so "none yet" is not an error. */
  @Get()
  @ApiOperation({
    summary: "An order's reservation (at most one), as a list",
    query: listQuery,
    example: { query: { orderId: '3f0c9a52-8d7e-4b1a-9c55-2e6f1d0b7a34' } },
  })
  async list(@Query() query: unknown) {
    const q = parseRequest(listQuery, query ?? {});
    const rows = await this.dataSource.getRepository(ReservationEntity).find({ where: { orderId: q.orderId }, order: { createdAt: 'ASC' } });
    return { items: rows.map(view) };
  }
}
