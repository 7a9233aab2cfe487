import { Controller, Get, Inject, Injectable, Res } from '@nestjs/common';
import { z } from 'zod';
import { HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Response } from 'express';
import { ApiOperation } from './openapi/api-operation';

export interface ReadinessProbe {
  name: string;
  /** Resolves when the dependency is usable; rejects (with a reason) when not. */
  check(): Promise<void>;
  /**
   * Reported under `reported` but never makes the service unready: for a dependency that some
   * answers need and others do not (the console's upstream services, ADR 0012).
   */
  reportOnly?: boolean;
}

/** What terminus answers: the status, and each check by name. */
const checks = z.record(z.string(), z.object({ status: z.enum(['up', 'down']) }).catchall(z.unknown()));
const readiness = z.object({
  status: z.enum(['ok', 'error', 'shutting_down']),
  info: checks.optional(),
  error: checks.optional(),
  details: checks,
  reported: checks.optional(),
});

export const READINESS_PROBES = Symbol('READINESS_PROBES');

/** Readiness turns false as soon as shutdown starts, so a load balancer stops sending work. */
@Injectable()
export class Lifecycle {
  shuttingDown = false;
  beforeApplicationShutdown(): void {
    this.shuttingDown = true;
  }
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly lifecycle: Lifecycle,
    @Inject(READINESS_PROBES) private readonly probes: ReadinessProbe[],
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers', responses: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }) } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    summary: 'Readiness: every dependency is usable and the service is not shutting down',
    responses: { 200: { description: 'Ready, with each check', schema: readiness }, 503: { description: 'Not ready, with each check', schema: readiness } },
  })
  async ready(@Res() res: Response): Promise<void> {
    const outcome = async (p: ReadinessProbe) => {
      const s = this.indicators.check(p.name);
      try {
        await p.check();
        return s.up();
      } catch (e) {
        return s.down({ message: e instanceof Error ? e.message : String(e) });
      }
    };
    const checks = [
      async () => {
        const s = this.indicators.check('lifecycle');
        return this.lifecycle.shuttingDown ? s.down({ message: 'shutting down' }) : s.up();
      },
      ...this.probes.filter((p) => !p.reportOnly).map((p) => () => outcome(p)),
    ];
    const reportOnly = this.probes.filter((p) => p.reportOnly);
    const reported = reportOnly.length ? { reported: Object.assign({}, ...(await Promise.all(reportOnly.map(outcome)))) as unknown } : {};
    try {
      res.status(200).json({ ...(await this.health.check(checks)), ...reported });
    } catch (e) {
      const body = (e as { getResponse?: () => unknown }).getResponse?.() ?? { status: 'error' };
      res.status(503).json({ ...(body as object), ...reported });
    }
  }
}
