/** The little of `ws` (a dependency of miniflare) that bench/edge-compare.ts uses to speak the DevTools protocol. */
declare module 'ws' {
  export default class WebSocket {
    constructor(url: string);
    once(event: 'open' | 'error', listener: (...args: unknown[]) => void): this;
    on(event: 'message', listener: (data: unknown) => void): this;
    send(data: string): void;
    close(): void;
  }
}
