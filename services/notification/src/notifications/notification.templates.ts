import { toMajor, type CancellationReason, type OrderCancelled, type OrderConfirmed, type PricedLine } from '@app/contracts';

/** What a customer is told of their order's outcome: subject, plain text and HTML. */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** An outcome event's payload, as the notification renders it. */
export type Outcome = { kind: 'confirmed'; order: OrderConfirmed } | { kind: 'cancelled'; order: OrderCancelled };

/** Each cancellation reason in words a customer reads (every reason has one: a unit test checks). */
export const reasonInWords: Record<CancellationReason, string> = {
  PAYMENT_DECLINED: 'your payment was declined, so nothing was charged',
  OUT_OF_STOCK: 'an item of your order is out of stock; any payment taken has been refunded',
  CUSTOMER_REQUEST: 'you asked us to cancel it; any payment taken has been refunded',
  TIMEOUT: 'we could not complete it in time; any payment taken has been refunded',
  PROCESSING_FAILED: 'something went wrong on our side while processing it; any payment taken has been refunded',
};

const money = (minor: number, currency: string) => `${toMajor(minor).toFixed(2)} ${currency}`;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * The email for one outcome. An event from before the outcomes carried the order's lines (an
 * order placed before OrderPlaced v2) renders with its total alone.
 */
export function renderOutcome(outcome: Outcome): RenderedMail {
  const o = outcome.order;
  const short = o.orderId.slice(0, 8);
  const subject = outcome.kind === 'confirmed' ? `Your order ${short} is confirmed` : `Your order ${short} was cancelled`;
  const headline =
    outcome.kind === 'confirmed'
      ? `Good news: your order ${o.orderId} is confirmed. Payment went through and your items are reserved.`
      : `Your order ${o.orderId} was cancelled: ${reasonInWords[outcome.order.reason]}.`;
  const lines: PricedLine[] = o.items ?? [];
  const total = money(o.total, o.currency);
  const text = [
    `Hello ${o.customerId},`,
    '',
    headline,
    '',
    ...lines.map((l) => `  ${l.sku}  ${l.quantity} × ${money(l.unitPrice, o.currency)} = ${money(l.lineTotal, o.currency)}`),
    ...(lines.length ? [''] : []),
    `  Total: ${total}`,
    `  Placed: ${o.placedAt}`,
    '',
    'Thank you for shopping with us.',
    '',
  ].join('\n');
  const rows = lines
    .map(
      (l) =>
        `<tr><td>${escapeHtml(l.sku)}</td><td style="text-align:right">${l.quantity}</td><td style="text-align:right">${money(l.unitPrice, o.currency)}</td><td style="text-align:right">${money(l.lineTotal, o.currency)}</td></tr>`,
    )
    .join('');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif;color:#1a1a1a">',
    `<p>Hello ${escapeHtml(o.customerId)},</p>`,
    `<p>${escapeHtml(headline)}</p>`,
    lines.length
      ? `<table cellpadding="4"><thead><tr><th align="left">Item</th><th>Qty</th><th>Unit price</th><th>Line total</th></tr></thead><tbody>${rows}</tbody></table>`
      : '',
    `<p><strong>Total: ${total}</strong><br>Placed: ${escapeHtml(o.placedAt)}</p>`,
    '<p>Thank you for shopping with us.</p>',
    '</body></html>',
  ].join('');
  return { subject, text, html };
}
