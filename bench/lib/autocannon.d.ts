/**
 * The slice of autocannon 8's programmatic API the benchmarks use (the package ships no types). Event
 * signatures are from its lib/run.js: `response` is emitted once per answered request with the time from
 * writing the request to the answer's last byte, in milliseconds.
 */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  namespace autocannon {
    interface Options {
      url: string;
      method?: 'GET' | 'POST';
      headers?: Record<string, string>;
      body?: Buffer | string;
      connections?: number;
      /** Seconds. The run ends at the first one-second tick at or after it. */
      duration?: number;
      /** Seconds to wait for an answer before counting a timeout. */
      timeout?: number;
      overallRate?: number;
      connectionRate?: number;
      ignoreCoordinatedOmission?: boolean;
      pipelining?: number;
    }

    interface Result {
      errors: number;
      timeouts: number;
      non2xx: number;
      duration: number;
    }

    interface Instance extends EventEmitter {
      stop(): void;
      on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): this;
      on(event: 'reqError', listener: (error: Error) => void): this;
      on(event: 'done', listener: (result: Result) => void): this;
    }
  }

  function autocannon(options: autocannon.Options, callback: (error: Error | null, result: autocannon.Result) => void): autocannon.Instance;

  export default autocannon;
}
