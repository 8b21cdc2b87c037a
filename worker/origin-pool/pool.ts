/**
 * The origins one isolate knows about: a breaker (passive health), the last readiness check (active
 * health) and the in-flight count per origin, and which origin to try next. While an origin's breaker
 * is open its readiness is probed every `breakerProbeIntervalMs` (origin-pool/proxy.ts
 * `probeOpenBreakers`), and a ready answer lets a request through at once rather than after the
 * cooldown: a restart of 1.5 s costs about 1.5 s of refusals, not the cooldown's 5 s.
 *
 * State lives in module scope, so it is per isolate: good for `wrangler dev` (one isolate) and for a busy
 * Worker (isolates are reused), but two isolates learn about a dead origin separately. To share it across
 * isolates and locations, the same `OriginPool` would live in a Durable Object keyed by the pool, with the
 * edge reading a snapshot every few seconds; the decisions here would not change.
 */
import {
  beginAttempt,
  canAttempt,
  currentState,
  newBreaker,
  recordAbandoned,
  recordFailure,
  recordSuccess,
  type Breaker,
  type BreakerOptions,
  type BreakerState,
} from '../../protocol/resilience/breaker.ts';

export interface OriginHealth {
  url: string;
  breaker: Breaker;
  /** Result of the last readiness check; undefined before the first. */
  ready: boolean | undefined;
  checkedAt: number;
  checking: boolean;
  inFlight: number;
  /** When the readiness of this origin was last probed because its breaker was open (ms). */
  breakerProbedAt: number;
  /** Whether such a probe is in flight. */
  breakerProbing: boolean;
}

export interface OriginStatus {
  url: string;
  breaker: BreakerState;
  consecutive_failures: number;
  ready: boolean | null;
  in_flight: number;
}

/**
 * Orders the origins to try: those whose breaker admits a request and that are not known to be unready,
 * least loaded first (ties broken by rotation, so load spreads evenly); then, as a last resort, admitted
 * origins whose readiness check failed (a readiness check can be stale; the breaker decides).
 * Origins already tried for this request come after the rest.
 */
export function orderOrigins(
  origins: readonly OriginHealth[],
  now: number,
  options: BreakerOptions,
  tried: ReadonlySet<string>,
  rotation: number,
): OriginHealth[] {
  const admitted = origins
    .map((o, i) => ({ o, turn: (i - rotation + origins.length * 1024) % origins.length }))
    .filter(({ o }) => canAttempt(o.breaker, now, options));
  const rank = (o: OriginHealth) => (tried.has(o.url) ? 2 : 0) + (o.ready === false ? 1 : 0);
  return admitted.sort((a, b) => rank(a.o) - rank(b.o) || a.o.inFlight - b.o.inFlight || a.turn - b.turn).map(({ o }) => o);
}

function newOrigin(url: string): OriginHealth {
  return { url, breaker: newBreaker(), ready: undefined, checkedAt: 0, checking: false, inFlight: 0, breakerProbedAt: 0, breakerProbing: false };
}

export class OriginPool {
  readonly origins: OriginHealth[];
  private rotation = 0;

  constructor(
    urls: readonly string[],
    private readonly options: BreakerOptions,
  ) {
    this.origins = urls.map(newOrigin);
  }

  /** The pool's URLs, in order. */
  urls(): string[] {
    return this.origins.map((o) => o.url);
  }

  /**
   * Replaces the origin list (an admin's override, origin-list.ts): origins that stay keep their breaker,
   * readiness and in-flight count; new ones start fresh; removed ones get no new requests (attempts
   * already running on them finish and are counted on their own records).
   */
  setOrigins(urls: readonly string[]): void {
    const known = new Map(this.origins.map((o) => [o.url, o]));
    this.origins.splice(0, this.origins.length, ...urls.map((url) => known.get(url) ?? newOrigin(url)));
  }

  /** The next origin to try, or undefined when every breaker is open (or all tried and none may retry). */
  pick(now: number, tried: ReadonlySet<string>): OriginHealth | undefined {
    const ordered = orderOrigins(this.origins, now, this.options, tried, this.rotation++);
    return ordered[0];
  }

  begin(origin: OriginHealth, now: number): void {
    origin.breaker = beginAttempt(origin.breaker, now, this.options);
    origin.inFlight++;
  }

  succeed(origin: OriginHealth): void {
    origin.inFlight--;
    origin.breaker = recordSuccess(origin.breaker);
    origin.ready = true;
  }

  fail(origin: OriginHealth, now: number): void {
    origin.inFlight--;
    origin.breaker = recordFailure(origin.breaker, now, this.options);
  }

  /** An attempt that ended with no verdict on the origin (the client went away). */
  abandon(origin: OriginHealth): void {
    origin.inFlight--;
    origin.breaker = recordAbandoned(origin.breaker);
  }

  /**
   * Origins whose breaker admits no request now (open, or half-open with its probe request out) and
   * whose readiness was neither probed nor its breaker opened within `intervalMs`, nor is being probed.
   */
  closedToTraffic(now: number, intervalMs: number): OriginHealth[] {
    return this.origins.filter(
      (o) =>
        !canAttempt(o.breaker, now, this.options) &&
        !o.breaker.probing &&
        !o.breakerProbing &&
        now - Math.max(o.breakerProbedAt, o.breaker.openedAt) >= intervalMs,
    );
  }

  /**
   * An origin whose breaker is open answered ready: it goes half-open at once, so the next request is
   * the probe that closes it (or, failing, opens it for another cooldown while probing goes on).
   */
  readyAgain(origin: OriginHealth, now: number): void {
    origin.ready = true;
    origin.checkedAt = now;
    if (origin.breaker.state === 'open') origin.breaker = { ...origin.breaker, openedAt: Math.min(origin.breaker.openedAt, now - this.options.cooldownMs) };
  }

  /** Origins whose readiness check is older than `ttlMs` and not already running. */
  staleReadiness(now: number, ttlMs: number): OriginHealth[] {
    return this.origins.filter((o) => !o.checking && now - o.checkedAt >= ttlMs);
  }

  status(now: number): OriginStatus[] {
    return this.origins.map((o) => ({
      url: o.url,
      breaker: currentState(o.breaker, now, this.options),
      consecutive_failures: o.breaker.consecutiveFailures,
      ready: o.ready ?? null,
      in_flight: o.inFlight,
    }));
  }
}
