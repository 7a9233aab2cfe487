import { Controller, Get, Inject } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CLOCK, type Clock } from '@app/platform';
import { dialectOf } from '@app/persistence';
import { readSummary, summaryIsolation, type Summary } from './summary.query';

@Controller('api/analytics')
export class SummaryHttp {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get('summary')
  summary(): Promise<Summary> {
    return this.dataSource.transaction(summaryIsolation(dialectOf(this.dataSource)), (manager) => readSummary(manager, this.clock.now()));
  }
}
