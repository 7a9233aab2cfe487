import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DeadLettersController, serviceKit, type ServiceInfrastructure } from '@app/messaging';
import { HealthController, serviceRegistry } from '@app/platform';
import { NOTIFICATION_CONFIG, type NotificationConfig } from './config';
import { MAILER, SmtpMailer, type Mailer } from './mail/mailer';
import { NotificationTables1765065600005 } from './migrations/1765065600005-notification-tables';
import { NotificationEntity } from './notifications/notification.entity';
import { NotificationHandlers, SERVICE } from './notifications/notification.handlers';
import { notificationMetrics, NotificationMetrics } from './notifications/notification.metrics';
import { NotificationsHttp } from './notifications/notifications.http';

/** Closes the SMTP connections with the app. */
class MailerCloser {
  constructor(private readonly mailer: Mailer) {}
  onApplicationShutdown(): void {
    this.mailer.close();
  }
}

@Module({})
export class NotificationModule {
  /**
   * The only place that decides Notification's adapters: whatever `infrastructure` carries, and
   * SMTP (nodemailer) to the server SMTP_URL names. Notification is not a saga participant: it
   * hears the saga's outcomes and tells the customer, and a dead letter of its own compensates
   * nothing (no SagaStepFailed).
   */
  static register(infrastructure: ServiceInfrastructure, config: NotificationConfig): DynamicModule {
    return {
      module: NotificationModule,
      imports: [TerminusModule],
      controllers: [NotificationsHttp, HealthController, DeadLettersController],
      providers: [
        ...serviceKit({
          service: SERVICE,
          infrastructure,
          adminToken: config.adminToken,
          entities: [NotificationEntity],
          migrations: [NotificationTables1765065600005],
          handlers: NotificationHandlers,
        }),
        { provide: NOTIFICATION_CONFIG, useValue: config },
        { provide: MAILER, useFactory: () => new SmtpMailer(config.smtp) },
        { provide: MailerCloser, useFactory: (mailer: Mailer) => new MailerCloser(mailer), inject: [MAILER] },
        { provide: NotificationMetrics, useFactory: () => notificationMetrics(serviceRegistry(SERVICE)) },
        NotificationHandlers,
      ],
    };
  }
}
