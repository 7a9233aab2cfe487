import { createTransport, type Transporter } from 'nodemailer';

/** One email as the notification sends it. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Derived from the delivery's key, so a receiving server can drop a repeat (see `messageIdFor`). */
  messageId: string;
}

/** The seam to the mail server: nodemailer over SMTP here, a recorder in unit tests. */
export interface Mailer {
  /** Resolves with the server's answer once it accepted the mail; rejects with MailNotSent otherwise. */
  send(mail: OutgoingMail): Promise<{ response: string }>;
  close(): void;
}

export const MAILER = Symbol('MAILER');

/**
 * The SMTP server did not take the mail. Deliberately without the socket error's `code` or
 * `cause`: a message whose mail cannot be sent goes through the retry policy and is then
 * dead-lettered (an SMTP server that stays down must not hold the queue forever, unlike the
 * service's own database, which the consumer waits for).
 */
export class MailNotSent extends Error {
  override readonly name = 'MailNotSent';
}

/** `<order>.<outcome>@<domain>`: the same for every attempt at one (order, outcome). */
export function messageIdFor(orderId: string, outcome: string, domain: string): string {
  return `<${orderId}.${outcome.toLowerCase()}@${domain}>`;
}

export interface SmtpSettings {
  /** smtp://host:port (STARTTLS when offered) or smtps://host:port (TLS from the start). */
  url: string;
  user?: string;
  password?: string;
  from: string;
  /** Connect, greeting and socket timeouts: a handler's transaction waits no longer than this for a server. */
  timeoutMs: number;
}

/** Sends over SMTP with nodemailer, a few pooled connections. */
export class SmtpMailer implements Mailer {
  private readonly transporter: Transporter;

  constructor(private readonly settings: SmtpSettings) {
    const url = new URL(settings.url);
    this.transporter = createTransport({
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 587)),
      secure: url.protocol === 'smtps:',
      pool: true,
      maxConnections: 4,
      connectionTimeout: settings.timeoutMs,
      greetingTimeout: settings.timeoutMs,
      socketTimeout: settings.timeoutMs,
      ...(settings.user ? { auth: { user: settings.user, pass: settings.password ?? '' } } : {}),
    });
  }

  async send(mail: OutgoingMail): Promise<{ response: string }> {
    try {
      const info = (await this.transporter.sendMail({ from: this.settings.from, ...mail })) as { response?: string };
      return { response: String(info.response ?? '').slice(0, 300) };
    } catch (error) {
      const e = error as { code?: string; responseCode?: number; message?: string };
      throw new MailNotSent(`SMTP: ${[e.code, e.responseCode].filter(Boolean).join(' ')} ${e.message ?? String(error)}`.trim().slice(0, 1000));
    }
  }

  close(): void {
    this.transporter.close();
  }
}
