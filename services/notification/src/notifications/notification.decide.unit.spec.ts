import { specify } from '../../../../test/support/decider-spec';
import { notifications, type Delivery } from './notification.decide';

const spec = specify(notifications);
const reported = (email: string | null = 'alice@example.com') => ({ type: 'OutcomeReported' as const, email });
const sent = (attempts = 1): Delivery => ({ status: 'SENT', attempts });
const failed = (attempts = 1): Delivery => ({ status: 'FAILED', attempts, lastError: 'SMTP 421' });

describe('a notification of an order’s outcome', () => {
  it('when an outcome is first reported, it sends the mail to the order’s address', () =>
    spec
      .given(null)
      .when(reported())
      .then({ status: 'SENDING', attempts: 0 }, [{ type: 'SendMail', to: 'alice@example.com' }]));
  it('when the SMTP server accepts it, the outcome is told', () =>
    spec.given({ status: 'SENDING', attempts: 0 }).when({ type: 'Sent' }).then({ status: 'SENT', attempts: 1 }));
  it('when the SMTP server refuses it, it is recorded failed with the error', () =>
    spec
      .given({ status: 'SENDING', attempts: 1 })
      .when({ type: 'SendFailed', error: 'SMTP 421' })
      .then({ status: 'FAILED', attempts: 2, lastError: 'SMTP 421' }));
  it('when a failed outcome is reported again (its retry), it sends again', () =>
    spec
      .given(failed(2))
      .when(reported())
      .then({ status: 'SENDING', attempts: 2 }, [{ type: 'SendMail', to: 'alice@example.com' }]));
  it('when an outcome already told is reported again (a replay, a copy), it sends nothing', () =>
    spec
      .given(sent())
      .when(reported())
      .thenRejects(/already told/));
  it('when the order gave no address, it is skipped and sends nothing', () => spec.given(null).when(reported(null)).then({ status: 'SKIPPED' }));
  it('when a skipped outcome is reported again, it stays skipped', () =>
    spec
      .given({ status: 'SKIPPED', attempts: 0 })
      .when(reported())
      .thenRejects(/no address/));
  it('when two messages of one batch report one outcome, only the first sends', () =>
    spec
      .given({ status: 'SENDING', attempts: 0 })
      .when(reported())
      .thenRejects(/being sent/));
  it('when an answer comes with no send under way, it is unprocessable', () =>
    spec
      .given(sent())
      .when({ type: 'Sent' })
      .thenRejects(/no send/, { unprocessable: true }));
});
