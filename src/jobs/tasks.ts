// Loads a folder of task modules at start (HOOKRELAY_TASKS_DIR, `serve --tasks`): every `*.ts`, `*.mjs` or `*.js`
// file (or link to one) not starting with `_` or `.`, each default-exporting a `defineTask(...)`. TypeScript
// needs no build: Node strips types outside node_modules. Any problem (a folder that cannot be read, a file that
// fails to load, a bad or duplicate type, one shadowing a built-in, an input schema that cannot be shown as JSON
// Schema) stops the start before anything is opened, naming the file.
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../config/config.ts';
import type { Logger } from '../log.ts';
import { isTask, taskProblem } from './define-task.ts';
import type { JobHandler } from './handler.ts';
import { BUILT_IN, inputJsonSchema } from './job-types.ts';

const TASK_FILE = /^[^_.].*\.(ts|mjs|js)$/;

/** A task folder or file that cannot be used: exit code 2, like any other configuration mistake. */
export class TaskLoadError extends ConfigError {
  override name = 'TaskLoadError';
}

export async function loadTasks(dir: string, log: Logger): Promise<JobHandler[]> {
  let names: string[];
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    names = [];
    for (const entry of entries) {
      // Dotfiles (editors' and macOS's copies) and `_` files (shared code) are not tasks.
      if (!TASK_FILE.test(entry.name) || entry.name.endsWith('.d.ts')) continue;
      // A symbolic link counts as what it points to: Kubernetes mounts ConfigMaps and Secrets as links.
      const file = entry.isSymbolicLink() ? await fs.stat(path.join(dir, entry.name)) : entry;
      if (file.isFile()) names.push(entry.name);
    }
    names.sort();
  } catch (error) {
    throw new TaskLoadError(`the tasks folder ${dir} cannot be read (${(error as Error).message})`);
  }
  if (names.length === 0)
    throw new TaskLoadError(
      `the tasks folder ${dir} has no task files (*.ts, *.mjs or *.js, not starting with _)`,
    );

  const builtIn = new Set(BUILT_IN.map((handler) => handler.type));
  const from = new Map<string, string>();
  const handlers: JobHandler[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    let loaded: { default?: unknown };
    try {
      loaded = (await import(pathToFileURL(file).href)) as { default?: unknown };
    } catch (error) {
      throw new TaskLoadError(`task file ${file} failed to load: ${(error as Error).message}`);
    }
    if (!isTask(loaded.default))
      throw new TaskLoadError(`task file ${file} must default-export defineTask({ type, input, run })`);
    const { handler } = loaded.default;
    const problem = taskProblem(handler);
    if (problem) throw new TaskLoadError(`task file ${file}: ${problem}`);
    try {
      inputJsonSchema(handler.input);
    } catch (error) {
      throw new TaskLoadError(
        `task file ${file}: its input schema cannot be shown as JSON Schema (${(error as Error).message})`,
      );
    }
    if (builtIn.has(handler.type))
      throw new TaskLoadError(`task file ${file}: "${handler.type}" is a built-in job type`);
    const earlier = from.get(handler.type);
    if (earlier) throw new TaskLoadError(`task file ${file}: "${handler.type}" is defined in ${earlier} too`);
    from.set(handler.type, file);
    handlers.push(handler);
  }
  log.info({ dir, types: handlers.map((handler) => handler.type) }, 'task modules loaded');
  return handlers;
}
