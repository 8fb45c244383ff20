// Coalescing wake-ups: many events in one turn of the event loop (attempts ending together) need one reaction.

/** Returns a function that runs `fn` on the next turn of the event loop, once however often it was called. */
export function soon(fn: () => void): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    setImmediate(() => {
      queued = false;
      fn();
    });
  };
}
