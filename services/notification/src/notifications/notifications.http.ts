import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { customerIdPattern } from '@app/contracts';
import { AdminGuard, ApiOperation, decodeCursor, pageOf, pageQuery, pageSchema, parseRequest } from '@app/platform';
import { NotificationEntity } from './notification.entity';

const listQuery = z
  .object({
    orderId: z.string().uuid('must be a UUID').optional(),
    customerId: z.string().regex(customerIdPattern, '1-64 letters, digits and . _ @ - only').optional(),
    status: z.enum(['SENT', 'SKIPPED', 'FAILED']).optional(),
    ...pageQuery,
  })
  .strict();

/** One (order, outcome): what was told to whom, or why not. */
const notificationView = z.object({
  orderId: z.string(),
  outcome: z.enum(['CONFIRMED', 'CANCELLED']),
  customerId: z.string(),
  to: z.string().nullable(),
  subject: z.string(),
  status: z.enum(['SENT', 'SKIPPED', 'FAILED']),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  messageId: z.string(),
  smtpResponse: z.string().nullable(),
  correlationId: z.string(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  sentAt: z.iso.datetime().nullable(),
});

const view = (n: NotificationEntity): z.output<typeof notificationView> => ({
  orderId: n.orderId,
  outcome: n.outcome as 'CONFIRMED' | 'CANCELLED',
  customerId: n.customerId,
  to: n.recipient,
  subject: n.subject,
  status: n.status as 'SENT' | 'SKIPPED' | 'FAILED',
  attempts: n.attempts,
  lastError: n.lastError,
  messageId: n.messageId,
  smtpResponse: n.smtpResponse,
  correlationId: n.correlationId,
  createdAt: n.createdAt.toISOString(),
  updatedAt: n.updatedAt.toISOString(),
  sentAt: n.sentAt?.toISOString() ?? null,
});

/**
 * What was told to whom: one record per (order, outcome), newest first. Admin only: it lists
 * customers' email addresses.
 */
@Controller('api/notifications')
export class NotificationsHttp {
  constructor(private readonly dataSource: DataSource) {}

  @Get()
  @UseGuards(AdminGuard)
  @ApiOperation({
    summary: 'The outcome emails, newest first, a page at a time: one per (order, outcome), with its status (admin: lists addresses)',
    query: listQuery,
    example: { query: { customerId: 'alice', status: 'SENT' } },
    responses: { 200: { description: 'A page of notifications', schema: pageSchema(notificationView) } },
  })
  async list(@Query() query: unknown) {
    const q = parseRequest(listQuery, query);
    const qb = this.dataSource.getRepository(NotificationEntity).createQueryBuilder('n');
    if (q.orderId) qb.andWhere('n.orderId = :orderId', { orderId: q.orderId });
    if (q.customerId) qb.andWhere('n.customerId = :customerId', { customerId: q.customerId });
    if (q.status) qb.andWhere('n.status = :status', { status: q.status });
    if (q.cursor) {
      const [createdAt, orderId, outcome] = decodeCursor(q.cursor, ['date', 'string', 'string']) as [string, string, string];
      const at = new Date(createdAt);
      qb.andWhere('(n.createdAt < :at OR (n.createdAt = :at AND (n.orderId < :orderId OR (n.orderId = :orderId AND n.outcome < :outcome))))', {
        at,
        orderId,
        outcome,
      });
    }
    const rows = await qb
      .orderBy('n.createdAt', 'DESC')
      .addOrderBy('n.orderId', 'DESC')
      .addOrderBy('n.outcome', 'DESC')
      .take(q.limit + 1)
      .getMany();
    return pageOf(rows, q.limit, (n) => [n.createdAt.toISOString(), n.orderId, n.outcome], view);
  }
}
