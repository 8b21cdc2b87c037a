/**
 * The demo's example inputs, each drawn once and in a task of its own. Drawing one takes a few ms (some
 * 15 before the code is warm, and more on a busy machine), and the page's main thread should run no task
 * the Long Tasks API calls long: so a load queues its model's examples, one timer task each, and a run
 * awaits its example instead of drawing it inside the click's task.
 */
import { EXAMPLE_MODELS, exampleInput, type ExampleInput } from '../../models/data/examples.ts';

const drawn = new Map<string, Promise<ExampleInput>>();

/** Whether the model is one of the built-ins that have examples (the others get seeded noise). */
export function hasExamples(modelId: string): boolean {
  return (EXAMPLE_MODELS as readonly string[]).includes(modelId);
}

/** The model's example of class `label`, drawn in a task of its own the first time it is asked for. */
export function example(modelId: string, label: number): Promise<ExampleInput> {
  const key = `${modelId}/${label}`;
  let pending = drawn.get(key);
  if (!pending) {
    pending = new Promise((resolve, reject) =>
      setTimeout(() => {
        try {
          const input = exampleInput(modelId, label);
          if (input) resolve(input);
          else reject(new Error(`${modelId} has no examples`));
        } catch (err) {
          reject(err);
        }
      }),
    );
    drawn.set(key, pending);
  }
  return pending;
}

/** Queues the first `count` examples of a model, so they are ready before a run asks for them. */
export function prepareExamples(modelId: string, count: number): void {
  // A failure shows when a run asks for that example; queued ahead, it must not be an unhandled rejection.
  for (let label = 0; label < count; label++) example(modelId, label).catch(() => {});
}
