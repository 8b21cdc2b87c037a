/**
 * The origin path's lazy chunk: the OIP codec, the circuit breaker and the answer's checks, which only a
 * run on the origin needs. origin-client.ts imports it on first use, so a page that runs its models on the device never
 * loads it and the main-thread SDK stays within its budget (client/bundle-size.test.ts).
 */
export * from '../protocol/oip-codec.ts';
export { createCircuitBreaker } from '../protocol/resilience/breaker.ts';
export { readOriginAnswer } from './origin-answer.ts';
