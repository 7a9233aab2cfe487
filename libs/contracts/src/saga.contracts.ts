import { z } from 'zod';

/**
 * Event: a service dead-lettered a saga message. Order cancels the order (PROCESSING_FAILED)
 * and compensates; the dead-lettered message stays in that service's DLQ for inspection.
 */
export const SagaStepFailed = {
  type: 'SagaStepFailed',
  version: 1,
  schema: z.object({
    orderId: z.string().min(1),
    service: z.string().min(1),
    failedMessageId: z.string().min(1),
    failedMessageType: z.string().min(1),
    error: z.string().max(2000),
    attempts: z.number().int().nonnegative(),
  }),
} as const;
export type SagaStepFailed = z.infer<typeof SagaStepFailed.schema>;
