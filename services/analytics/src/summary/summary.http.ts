import { Controller, Get, Inject } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApiOperation, CLOCK, fromDependency, type Clock } from '@app/platform';
import { dialectOf } from '@app/persistence';
import { readSummary, summaryIsolation, type Summary } from './summary.query';

@Controller('api/analytics')
export class SummaryHttp {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private inFlight: Promise<Summary> | null = null;

  /**
   * Requests that arrive while a summary is being computed share it: however many ask, the
   * database computes one at a time (the summary scans order_facts, so it is not free).
   */
  @Get('summary')
  @ApiOperation({
    summary: 'Orders by status, revenue, and saga duration percentiles',
    responses: { 503: 'The database is unavailable' },
  })
  summary(): Promise<Summary> {
    this.inFlight ??= fromDependency('the database', () =>
      this.dataSource.transaction(summaryIsolation(dialectOf(this.dataSource)), (manager) => readSummary(manager, this.clock.now())),
    ).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }
}
