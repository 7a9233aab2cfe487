import { type DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { createLogger, HealthController, Lifecycle, READINESS_PROBES } from '@app/platform';
import { ArchiveHttp } from './archive/archive.http';
import { AuditLog } from './audit/audit-log';
import { AuditHttp } from './audit/audit.http';
import { CONSOLE_CONFIG, type ConsoleConfig } from './config';
import { FailedMessagesHttp } from './failed-messages/failed-messages.http';
import { consoleReadinessProbes } from './health/console-health';
import { OrdersHttp } from './orders/orders.http';
import { OverviewHttp } from './overview/overview.http';
import { SessionGuard } from './session/session.guard';
import { SessionHttp } from './session/session.http';
import { SessionStore } from './session/session.store';
import { UpstreamClient } from './upstream';
import { WebHttp } from './web/web.http';

/** The operations console: the page, and a thin backend over the four services' APIs. */
@Module({})
export class ConsoleModule {
  static register(config: ConsoleConfig): DynamicModule {
    return {
      module: ConsoleModule,
      imports: [TerminusModule],
      controllers: [SessionHttp, OrdersHttp, FailedMessagesHttp, OverviewHttp, ArchiveHttp, AuditHttp, WebHttp, HealthController],
      providers: [
        { provide: CONSOLE_CONFIG, useValue: config },
        { provide: SessionStore, useValue: new SessionStore(config.adminToken, config.sessionIdleMs) },
        { provide: AuditLog, useValue: new AuditLog(config.auditLog, createLogger({ service: 'console' }).child({ component: 'audit' })) },
        Lifecycle,
        { provide: READINESS_PROBES, useValue: consoleReadinessProbes(config) },
        SessionGuard,
        UpstreamClient,
      ],
    };
  }
}
