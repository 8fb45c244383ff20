// The task loader on its own: links count as the files they point to (Kubernetes mounts ConfigMaps as links),
// and hidden files are skipped.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadTasks } from '../../src/jobs/tasks.ts';
import { createLogger } from '../../src/log.ts';

const FIXTURES = path.resolve(import.meta.dirname, '..', 'fixtures', 'tasks');

t.test('a folder of links loads the tasks they point to; hidden files are not tasks', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hookrelay-linked-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.symlink(path.join(FIXTURES, 'steps.ts'), path.join(dir, 'steps.ts'));
  await fs.writeFile(path.join(dir, '.steps.ts.swp'), 'not a task');
  await fs.writeFile(path.join(dir, '._steps.ts'), 'not a task either');
  const handlers = await loadTasks(dir, createLogger('silent'));
  t.same(
    handlers.map((handler) => handler.type),
    ['fixture.steps'],
  );
});
