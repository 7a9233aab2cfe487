import { cancellationReasonSchema, type OrderCancelled, type OrderConfirmed } from '@app/contracts';
import { reasonInWords, renderOutcome } from './notification.templates';

const order: OrderConfirmed = {
  orderId: '3f1d7a43-2d5b-4c55-9b0c-3a3b3f0f4a11',
  customerId: 'alice',
  total: 18_790,
  currency: 'USD',
  placedAt: '2026-12-07T10:00:00.000Z',
  email: 'alice@example.com',
  items: [
    { sku: 'KB-001', quantity: 2, unitPrice: 8900, lineTotal: 17_800 },
    { sku: 'CB-005', quantity: 1, unitPrice: 990, lineTotal: 990 },
  ],
};

describe('the outcome emails', () => {
  it('tell a confirmation with its lines and total, in text and HTML', () => {
    const mail = renderOutcome({ kind: 'confirmed', order });
    expect(mail.subject).toBe('Your order 3f1d7a43 is confirmed');
    expect(mail.text).toContain('KB-001  2 × 89.00 USD = 178.00 USD');
    expect(mail.text).toContain('Total: 187.90 USD');
    expect(mail.html).toContain('<td>KB-001</td>');
    expect(mail.html).toContain('Total: 187.90 USD');
  });

  it.each(cancellationReasonSchema.options)('tell a cancellation for %s in words', (reason) => {
    const cancelled: OrderCancelled = { ...order, reason };
    const mail = renderOutcome({ kind: 'cancelled', order: cancelled });
    expect(mail.subject).toBe('Your order 3f1d7a43 was cancelled');
    expect(reasonInWords[reason]).toMatch(/\w{3,}/);
    expect(mail.text).toContain(reasonInWords[reason]);
    expect(mail.html).toContain(reasonInWords[reason]);
    expect(mail.text).not.toContain(reason);
  });

  it('render an outcome of an order placed before the lines travelled, with its total alone', () => {
    const { items: _lines, email: _email, ...old } = order;
    const mail = renderOutcome({ kind: 'confirmed', order: old });
    expect(mail.text).toContain('Total: 187.90 USD');
    expect(mail.html).not.toContain('<table');
  });

  it('escape what the customer chose in the HTML', () => {
    const mail = renderOutcome({ kind: 'confirmed', order: { ...order, customerId: '<b>x</b>' } });
    expect(mail.html).toContain('&lt;b&gt;x&lt;/b&gt;');
    expect(mail.html).not.toContain('<b>x</b>');
  });
});
