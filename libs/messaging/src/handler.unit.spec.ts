import { createEnvelope } from '@app/contracts';
import { configureTracing, currentLogContext, shutdownTracing } from '@app/platform';
import { asMessage } from './handler';

describe('asMessage (what a log line written while handling a message carries)', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const message = createEnvelope({
    type: 'OrderPlaced',
    payload: {},
    key: 'o-1',
    source: 'order',
    causedBy: { messageId: 'm-0', correlationId: 'o-1', traceparent },
  });
  afterAll(() => shutdownTracing());

  it("names the message; not the sender's span while this service traces nothing", () => {
    const ctx = asMessage(message, currentLogContext);
    expect(ctx).toEqual({ correlationId: 'o-1', causationId: 'm-0', messageId: message.messageId, messageType: 'OrderPlaced' });
  });

  it('names the span it is handled in (the traceparent the consumer set) while tracing is on', () => {
    // An endpoint nothing listens on: no span is exported here, the test reads ids only.
    configureTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    expect(asMessage(message, currentLogContext)).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' });
    expect(asMessage({ ...message, traceparent: 'garbage' }, currentLogContext)).not.toHaveProperty('traceId');
  });
});
