/**
 * The benchmark goals the issues set, in one place: each tier's benchmark checks its own against these,
 * and `npm run bench`'s summary (summary.ts) checks them all. No imports, so any benchmark can read it.
 * (bench:origin reports the open-loop p95 as met only below the bound, as its issue words it.)
 */
export interface Goal {
  op: '>=' | '<=';
  bound: number;
}

/** Each checked against one summary row's `value`. */
export const GOALS = {
  /** The batching origin over raw onnxruntime-node's best rows/s, large-classifier at c=64. */
  originCOverA: { op: '>=', bound: 0.85 },
  /** The batching origin over the naive server, same cell. */
  originCOverB: { op: '>=', bound: 8 },
  /** CPU the origin process uses in that cell, in cores (of 2): the machine working, not a core idle. */
  originServerCores: { op: '>=', bound: 1.8 },
  /** The origin's rows per CPU-second over raw onnxruntime's: the figure that holds where the load generator shares the cores. */
  originRowsPerCpuRatio: { op: '>=', bound: 0.85 },
  /** p95 in open loop at 80 % of the origin's peak. */
  originP95At80Ms: { op: '<=', bound: 100 },
  /** What the edge (the Worker in workerd, as production runs it) adds to a request's p50, one connection. */
  edgeAddedP50Ms: { op: '<=', bound: 1 },
  /** Requests/s through the edge (in workerd) over straight to the origin, at 8 connections. */
  edgeThroughputRatio: { op: '>=', bound: 0.5 },
  /** The SDK's `model.run` p50 over raw onnxruntime-web's `session.run` in a minimal postMessage worker, in Chromium. */
  clientOverheadRatio: { op: '<=', bound: 1.03 },
  /** The SDK's cold load (createTandem + load: manifest verify, download, hash, session) over raw fetch + create, same bytes. */
  clientColdLoadRatio: { op: '<=', bound: 1.1 },
  /** p50 of a result-cache hit, ms. */
  clientCacheHitP50Ms: { op: '<=', bound: 1 },
} as const satisfies Record<string, Goal>;
