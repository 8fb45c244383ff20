// Keyed serial execution: tasks that share a key run one after another, tasks of different keys side by side.

export type OneByOne = <T>(key: string, task: () => Promise<T>) => Promise<T>;

/** Returns a runner that starts a task once every earlier task of its key has settled, whatever their outcome. */
export function oneByOne(): OneByOne {
  const tails = new Map<string, Promise<void>>();
  return (key, task) => {
    const result = (tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    tails.set(key, tail);
    // The last task of a key leaves nothing behind.
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return result;
  };
}
