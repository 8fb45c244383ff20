// Group commit: callers that arrive while a flush is running wait for the next one and share it, so many
// concurrent small writes become one transaction with multi-row statements. An idle batcher flushes at once
// (no added latency); under load, batches grow by themselves up to `maxBatch`.

export interface BatcherOptions {
  /** The most items one flush takes. */
  maxBatch: number;
  /** Flushes that may run at once (each on its own database connection). */
  maxConcurrent: number;
}

/**
 * `flush` gets the items in arrival order and returns one result per item, in the same order; an Error in
 * a result's place rejects that caller only. A thrown error rejects every caller of that flush.
 */
export type Flush<T, R> = (items: T[]) => Promise<Array<R | Error>>;

export interface Batcher<T, R> {
  add(item: T): Promise<R>;
}

interface Waiting<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export function createBatcher<T, R>(flush: Flush<T, R>, options: BatcherOptions): Batcher<T, R> {
  const queue: Array<Waiting<T, R>> = [];
  const running = new Set<Promise<void>>();
  let scheduled = false;

  async function run(batch: Array<Waiting<T, R>>): Promise<void> {
    try {
      const results = await flush(batch.map((w) => w.item));
      batch.forEach((waiting, i) => {
        const result = results[i];
        if (result instanceof Error) waiting.reject(result);
        else waiting.resolve(result as R);
      });
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    }
  }

  function pump(): void {
    while (queue.length > 0 && running.size < options.maxConcurrent) {
      const flushing = run(queue.splice(0, options.maxBatch)).finally(() => {
        running.delete(flushing);
        pump();
      });
      running.add(flushing);
    }
  }

  return {
    add(item) {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        // Wait for the callers of this turn of the event loop before the first flush, so they share it.
        if (!scheduled) {
          scheduled = true;
          setImmediate(() => {
            scheduled = false;
            pump();
          });
        }
      });
    },
  };
}
