// Loaded when a sink starts: only the embedded mode and the tests run one.
import type { SMTPServer as SmtpServerType } from 'smtp-server';

/** A mail as the sink received it: the envelope, a few headers, and the raw message. */
export interface ReceivedMail {
  from: string;
  to: string[];
  messageId: string | null;
  subject: string | null;
  receivedAt: string;
  raw: string;
}

export interface SmtpSink {
  host: string;
  port: number;
  /** smtp://host:port, for SMTP_URL. */
  url: string;
  /** Everything received, oldest first. */
  readonly received: ReceivedMail[];
  /** Until `resume`, every mail is refused with a 421 (the server is "down" for the senders). */
  refuse(): void;
  resume(): void;
  close(): Promise<void>;
}

const MAX_KEPT = 10_000;
const MAX_MESSAGE_BYTES = 1024 * 1024;

function header(raw: string, name: string): string | null {
  const head = raw.split(/\r?\n\r?\n/, 1)[0];
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head);
  return m ? m[1].replace(/\r?\n[ \t]+/g, ' ').trim() : null;
}

/**
 * A real SMTP server (the `smtp-server` package, by nodemailer's authors) that keeps what it
 * receives in memory: the embedded mode's mail server, and the integration tests' receiving end.
 * Loopback only, no authentication, no TLS; at most 10,000 mails of at most 1 MiB are kept.
 */
export async function startSmtpSink(options: { port?: number; host?: string } = {}): Promise<SmtpSink> {
  const host = options.host ?? '127.0.0.1';
  const received: ReceivedMail[] = [];
  let refusing = false;
  const { SMTPServer } = (await import('smtp-server')) as { SMTPServer: typeof SmtpServerType };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: MAX_MESSAGE_BYTES,
    logger: false,
    onMailFrom(_address, _session, callback) {
      if (refusing) return callback(Object.assign(new Error('Service not available, try again later'), { responseCode: 421 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          messageId: header(raw, 'Message-ID'),
          subject: header(raw, 'Subject'),
          receivedAt: new Date().toISOString(),
          raw,
        });
        if (received.length > MAX_KEPT) received.splice(0, received.length - MAX_KEPT);
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const port = (server.server.address() as { port: number }).port;
  return {
    host,
    port,
    url: `smtp://${host}:${port}`,
    received,
    refuse: () => void (refusing = true),
    resume: () => void (refusing = false),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
