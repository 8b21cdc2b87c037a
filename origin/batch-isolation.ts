/**
 * Keeping one request's bad data from failing the others it was batched with.
 *
 * The dynamic batcher runs several requests as one onnxruntime run, so a single request the model cannot
 * take (an index past a Gather's table) fails the whole run, and the error names that request's value.
 * When a run of several members fails in a way one member's data may explain (`splittable`), its members
 * run again in halves, each half split again only if it fails: a half that succeeds answers its members
 * from a run holding only their rows, and a member fails only with an error from a run of its own. One bad
 * member among n costs at most 2·log2(n) extra runs. A failure no split can cure (the session thread died,
 * the runner's own bug) is everyone's and is not retried.
 *
 * Runs are sequential, inside the batch's one slot of the batcher's concurrency. Before each re-run a
 * member that is `gone` (its deadline passed, its caller left) is answered with why and left out.
 */

/** One member's answer. */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

/** What splitting one failed batch cost and found, reported once per batch. */
export interface SplitReport {
  /** Members of the batch whose merged run failed. */
  members: number;
  /** Runs after the merged one. */
  reruns: number;
  /** Members that failed in a run of their own. */
  isolated: number;
  /** The merged run's error. */
  error: unknown;
}

export interface IsolationOptions<T> {
  /** Whether a failed run of several members may owe its failure to one member's data. */
  splittable: (error: unknown) => boolean;
  /** Why a member must not run again (its deadline passed, its caller left), or undefined to run it. */
  gone: (member: T) => unknown;
}

/**
 * Runs `members` as one batch; if that fails splittably, runs them again in halves until every member has
 * either an answer or an error of its own.
 * @returns each member's outcome, in order, and the split's report when there was one.
 * @example
 * const { settled } = await runIsolating(batch, run, { splittable: (e) => isRunFailure(e), gone: () => undefined });
 */
export async function runIsolating<T, O>(
  members: readonly T[],
  run: (members: readonly T[]) => Promise<O[]>,
  options: IsolationOptions<T>,
): Promise<{ settled: Settled<O>[]; split: SplitReport | undefined }> {
  const settled: Settled<O>[] = new Array(members.length);
  let split: SplitReport | undefined;

  const attempt = async (indices: readonly number[]): Promise<void> => {
    try {
      const results = await run(indices.map((i) => members[i]!));
      indices.forEach((member, k) => (settled[member] = { ok: true, value: results[k]! }));
    } catch (error) {
      const splittable = options.splittable(error);
      if (!splittable || indices.length === 1) {
        for (const member of indices) settled[member] = { ok: false, error };
        if (splittable && split) split.isolated++;
        return;
      }
      split ??= { members: members.length, reruns: 0, isolated: 0, error };
      const mid = Math.ceil(indices.length / 2);
      for (const half of [indices.slice(0, mid), indices.slice(mid)]) {
        const live = half.filter((member) => {
          const reason = options.gone(members[member]!);
          if (reason !== undefined) settled[member] = { ok: false, error: reason };
          return reason === undefined;
        });
        if (live.length === 0) continue;
        split.reruns++;
        await attempt(live);
      }
    }
  };

  await attempt(members.map((_, i) => i));
  return { settled, split };
}
