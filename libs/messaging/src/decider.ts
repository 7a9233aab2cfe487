/**
 * One shape for every decision of the saga (Order's saga, Payment's payments, Inventory's
 * reservations): given the state and an input, the new state and what to send, or a refusal
 * with the reason. Pure: no I/O, no clock, no ids made up inside (they come with the input), so
 * a decision is tested as a table of sentences (test/support/decider-spec.ts) and a batch
 * handler runs many in memory, one after the other, between one load and one write.
 *
 * `unprocessable` marks an input that can never be applied (not merely late or repeated): the
 * handler dead-letters it rather than recording it as not applied.
 */
export type Decision<State, Output> = { accepted: true; state: State; send: Output[] } | { accepted: false; why: string; unprocessable?: boolean };

export interface Decider<State, Input, Output> {
  decide(state: State, input: Input): Decision<State, Output>;
}

export const accept = <State, Output>(state: State, send: Output[] = []): Decision<State, Output> => ({ accepted: true, state, send });
export const reject = (why: string, unprocessable = false): { accepted: false; why: string; unprocessable?: boolean } =>
  unprocessable ? { accepted: false, why, unprocessable } : { accepted: false, why };

/** For the `default` of a switch over a union that has no other member left. */
export function unreachable(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
