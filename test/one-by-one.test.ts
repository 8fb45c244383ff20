// Records that lock an endpoint's row go one at a time per endpoint (src/delivery/dispatcher.ts): the runner
// must keep a key's tasks apart, let other keys run beside them, and not stop a key at a failed task.
import t from 'tap';
import { oneByOne } from '../src/one-by-one.ts';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

t.test("a key's tasks run one at a time, in order; other keys run beside them", async (t) => {
  const run = oneByOne();
  const running = new Map<string, number>();
  let most = 0;
  let across = 0;
  const order: string[] = [];
  const task = (key: string, name: string) => async () => {
    running.set(key, (running.get(key) ?? 0) + 1);
    most = Math.max(most, running.get(key) ?? 0);
    across = Math.max(
      across,
      [...running.values()].reduce((a, b) => a + b, 0),
    );
    await tick();
    order.push(name);
    running.set(key, (running.get(key) ?? 0) - 1);
    return name;
  };
  const results = await Promise.all([
    run('a', task('a', 'a1')),
    run('a', task('a', 'a2')),
    run('b', task('b', 'b1')),
    run('a', task('a', 'a3')),
  ]);
  t.same(results, ['a1', 'a2', 'b1', 'a3'], 'each caller gets its own result');
  t.equal(most, 1, 'never two of one key at once');
  t.equal(across, 2, 'a and b side by side');
  t.same(
    order.filter((name) => name.startsWith('a')),
    ['a1', 'a2', 'a3'],
  );
});

t.test('a failed task fails its caller only; the next of its key still runs', async (t) => {
  const run = oneByOne();
  const failed = run('a', async () => {
    await tick();
    throw new Error('refused');
  });
  const next = run('a', async () => 'ran');
  await t.rejects(failed, /refused/);
  t.equal(await next, 'ran');
});
