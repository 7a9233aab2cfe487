import { createEnvelope, SagaStepFailed, type Envelope } from '@app/contracts';
import type { FailureInfo } from './transport';
import { recordInInbox } from './outbox/outbox.sql';
import type { UnitOfWork } from './unit-of-work';

/**
 * When a saga message is dead-lettered, tell the saga: publish SagaStepFailed (through the
 * outbox, once per dead-lettered message) so Order cancels and compensates.
 */
export function publishSagaStepFailed(uow: UnitOfWork, service: string) {
  return async (message: Envelope | null, failure: FailureInfo): Promise<void> => {
    // Unreadable messages carry no saga to tell; a failed SagaStepFailed must not beget another.
    if (!message || message.type === SagaStepFailed.type) return;
    await uow.run(async (tx) => {
      const [fresh] = await recordInInbox(tx.sql, `${service}.dead-letters`, [{ messageId: message.messageId, messageType: message.type }]);
      if (!fresh) return;
      const payload: SagaStepFailed = {
        orderId: message.key,
        service,
        failedMessageId: message.messageId,
        failedMessageType: message.type,
        error: failure.error.slice(0, 2000),
        attempts: failure.attempts,
      };
      tx.send(createEnvelope({ type: SagaStepFailed.type, key: message.key, source: service, causedBy: message, payload }));
    });
  };
}
