/** A dead letter as a service's admin API lists it. */
export interface ListedDeadLetter {
  id: string;
  queue: string;
  routingKey: string;
  deadLetteredAt: string;
  failure: { error: string; stack?: string; attempts: number; deliveries: number; nonRetryable: boolean; firstFailedAt: string; failedAt: string };
  headers: Record<string, unknown>;
  message: unknown;
}

export interface FailedMessage extends ListedDeadLetter {
  service: string;
  messageType: string;
  messageId?: string;
  orderId?: string;
  errorType: string;
  frame: string;
  groupKey: string;
  /** How often the console has retried this message before (from the audit log). */
  retries: number;
}

export interface FailureGroup {
  key: string;
  messageType: string;
  errorType: string;
  frame: string;
  services: string[];
  count: number;
  firstSeen: string;
  lastSeen: string;
  messages: FailedMessage[];
}

/**
 * The error's type: the class name a stack or message starts with ("GatewayError: ..."),
 * else the whole first line cut short (errors thrown as bare strings have no type).
 */
export function errorType(error: string, stack?: string): string {
  const first = (stack ?? error).split('\n')[0] ?? '';
  const match = /^([A-Za-z_$][\w$]*(?:Error|Exception))\b/.exec(first) ?? /^([A-Z][\w$]*):/.exec(first);
  return match?.[1] ?? (first.slice(0, 80) || 'unknown');
}

/**
 * The first frame of our own code: not a dependency, not Node's internals. Line and column
 * are dropped so one failure in several builds of the same code is one group.
 */
export function firstFrameOfOurs(stack: string | undefined): string {
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const frame = line.trim();
    if (!frame.startsWith('at ') || /node_modules|node:internal|\(node:|<anonymous>/.test(frame)) continue;
    const m = /^at (?:(.+?) \()?(.+?)(?::\d+)?(?::\d+)?\)?$/.exec(frame);
    if (!m) continue;
    const file = (m[2] ?? '').replace(/^.*?\/((?:services|libs)\/)/, '$1');
    return m[1] ? `${m[1]} (${file})` : file;
  }
  return '(no frame of ours)';
}

function envelopeField(message: unknown, field: string): string | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const v = (message as Record<string, unknown>)[field];
  return typeof v === 'string' ? v : undefined;
}

/**
 * A dead letter of Analytics is a Kafka record it could not read: its value may be no envelope
 * at all, so the record's own headers name it (`message-type`, `message-id`, its key the order
 * id), and its error is a reading's verdict ("invalid envelope: ...", "not valid JSON"), whose
 * type is what comes before the details.
 */
function analyticsFields(d: ListedDeadLetter): { messageType?: string; messageId?: string; orderId?: string; errorType?: string } {
  const header = (name: string) => (typeof d.headers[name] === 'string' && d.headers[name] ? (d.headers[name] as string) : undefined);
  const verdict = /^([^:]{1,80}):/.exec(d.failure.error)?.[1];
  return {
    messageType: header('message-type') ?? `unreadable record of ${d.routingKey}`,
    messageId: header('message-id'),
    orderId: header('kafka-key'),
    errorType: d.failure.stack ? undefined : verdict,
  };
}

export function describe(service: string, d: ListedDeadLetter, retriesOf: (messageId: string) => number): FailedMessage {
  const analytics = service === 'analytics' ? analyticsFields(d) : {};
  const messageType = envelopeField(d.message, 'type') ?? analytics.messageType ?? String(d.headers.type ?? d.routingKey);
  const messageId = envelopeField(d.message, 'messageId') ?? analytics.messageId;
  const payload = typeof d.message === 'object' && d.message ? (d.message as Record<string, unknown>).payload : undefined;
  const orderId = envelopeField(payload, 'orderId') ?? envelopeField(d.message, 'key') ?? analytics.orderId;
  const type = analytics.errorType ?? errorType(d.failure.error, d.failure.stack);
  const frame = firstFrameOfOurs(d.failure.stack);
  return {
    ...d,
    service,
    messageType,
    ...(messageId ? { messageId } : {}),
    ...(orderId ? { orderId } : {}),
    errorType: type,
    frame,
    groupKey: `${messageType} | ${type} | ${frame}`,
    retries: messageId ? retriesOf(messageId) : 0,
  };
}

/** One group per message type + error type + first frame of ours; the largest first. */
export function groupFailures(messages: FailedMessage[]): FailureGroup[] {
  const groups = new Map<string, FailureGroup>();
  for (const m of messages) {
    let g = groups.get(m.groupKey);
    if (!g) {
      g = {
        key: m.groupKey,
        messageType: m.messageType,
        errorType: m.errorType,
        frame: m.frame,
        services: [],
        count: 0,
        firstSeen: m.deadLetteredAt,
        lastSeen: m.deadLetteredAt,
        messages: [],
      };
      groups.set(m.groupKey, g);
    }
    g.count++;
    g.messages.push(m);
    if (!g.services.includes(m.service)) g.services.push(m.service);
    if (m.deadLetteredAt < g.firstSeen) g.firstSeen = m.deadLetteredAt;
    if (m.deadLetteredAt > g.lastSeen) g.lastSeen = m.deadLetteredAt;
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}
