import { deepStrictEqual, match, ok } from 'node:assert/strict';
import type { Decider, Decision } from '@app/messaging';

/**
 * Given / when / then for a decider, one line per rule:
 *
 *   spec.given(pending()).when(stockReserved()).then({ status: 'CONFIRMED' }, [{ type: 'OrderConfirmed' }]);
 *   spec.given(confirmed()).when(deadline()).thenRejects(/CONFIRMED/);
 *
 * `then` checks the fields of the new state it names (the others may be anything) and exactly
 * the outputs sent, in order.
 */
export function specify<S, I, O>(decider: Decider<S, I, O>) {
  return {
    given: (state: S) => ({
      when: (input: I) => {
        const decision: Decision<S, O> = decider.decide(state, input);
        return {
          decision,
          then(expected: Partial<S>, send: O[] = []): void {
            ok(decision.accepted, `expected the input to be accepted, it was refused: ${decision.accepted ? '' : decision.why}`);
            if (!decision.accepted) return;
            const actual = Object.fromEntries(Object.keys(expected).map((k) => [k, (decision.state as Record<string, unknown>)[k]]));
            deepStrictEqual(actual, expected);
            deepStrictEqual(decision.send, send);
          },
          thenRejects(why: RegExp, options: { unprocessable?: boolean } = {}): void {
            ok(!decision.accepted, `expected a refusal, got ${JSON.stringify(decision)}`);
            if (decision.accepted) return;
            match(decision.why, why);
            deepStrictEqual(Boolean(decision.unprocessable), Boolean(options.unprocessable));
          },
        };
      },
    }),
  };
}
