import { Controller, Get, UseGuards } from '@nestjs/common';
import { SessionGuard } from '../session/session.guard';
import { UpstreamClient } from '../upstream';
import { byLabel, histogramQuantile, parsePrometheusText, type Sample, sum } from './prometheus-text';

const SERVICES = ['order', 'payment', 'inventory', 'analytics'] as const;

/**
 * The figures of the overview, read from each service's /metrics at each call. Counters are
 * sent as they are with the time read; the page turns two reads into a rate.
 */
@Controller('api/overview')
@UseGuards(SessionGuard)
export class OverviewHttp {
  constructor(private readonly upstream: UpstreamClient) {}

  @Get()
  async overview() {
    const read = await Promise.all(
      SERVICES.map(async (service) => {
        try {
          const reply = await this.upstream.call<string>(service, 'GET', '/metrics');
          return [service, reply.status === 200 ? parsePrometheusText(String(reply.body)) : null] as const;
        } catch {
          return [service, null] as const;
        }
      }),
    );
    const metrics = Object.fromEntries(read) as Record<(typeof SERVICES)[number], Sample[] | null>;
    const order = metrics.order ?? [];
    const quantile = (q: number) => histogramQuantile(order, 'saga_order_saga_duration_seconds', q);
    return {
      at: new Date().toISOString(),
      ordersCompleted: byLabel(order, 'saga_orders_completed_total', 'outcome'),
      ordersPlaced: sum(order, 'saga_http_requests_total', { route: '/api/orders', method: 'POST', status_class: '2xx' }),
      cancellationsByReason: byLabel(order, 'saga_order_cancellations_total', 'reason'),
      sagaDurationSeconds: { p50: quantile(0.5), p95: quantile(0.95), p99: quantile(0.99) },
      openSagas: byLabel(order, 'saga_orders_open', 'status'),
      services: SERVICES.map((service) => {
        const s = metrics[service];
        return {
          service,
          up: s !== null,
          messagesHandled: s ? sum(s, 'saga_messages_consumed_total', { outcome: 'handled' }) : null,
          outboxBacklog: s ? byLabel(s, 'saga_outbox_pending_messages', 'channel') : null,
          deadLetters: s ? sum(s, 'saga_dead_letters_parked') : null,
        };
      }),
    };
  }
}
