import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { parseRequest } from '@app/platform';
import { SessionGuard } from '../session/session.guard';
import { AuditLog } from './audit-log';

@Controller('api/audit')
@UseGuards(SessionGuard)
export class AuditHttp {
  constructor(private readonly audit: AuditLog) {}

  /** The newest entries first. */
  @Get()
  async latest(@Query() query: unknown) {
    const q = parseRequest(z.object({ limit: z.coerce.number().int().min(1).max(1000).default(200) }).strict(), query);
    return { items: await this.audit.latest(q.limit) };
  }
}
