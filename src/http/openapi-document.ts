// The OpenAPI document without a running service: the app is built on a context that holds only the config, a
// silent log and the built-in job types, made ready (which compiles the routes' schemas into the document) and
// never listens. Whatever else a route would reach fails loudly, so a route that touched the database while being
// registered would be caught here, not served wrong. `hookrelay openapi` writes it; docs/openapi.json is its output.
import fs from 'node:fs/promises';

import { loadConfig } from '../config/config.ts';
import type { AppContext } from '../context.ts';
import { jobTypesOf } from '../jobs/job-types.ts';
import { createLogger } from '../log.ts';
import { buildApp } from './app.ts';

export async function openApiDocument(): Promise<unknown> {
  // The defaults, not this machine's environment: the document must not depend on who generates it.
  const config = loadConfig({});
  // The built-in job types only: a deployment's task modules appear in the document its service serves.
  const context = new Proxy({ config, log: createLogger('silent'), jobTypes: jobTypesOf() } as AppContext, {
    get(target, name: string) {
      if (name in target) return target[name as keyof AppContext];
      throw new Error(`building the OpenAPI document reached ctx.${name}, which it does not have`);
    },
  });
  const app = await buildApp(context);
  await app.ready();
  const document = app.swagger();
  await app.close();
  return document;
}

/** Writes the document to `file` (whole or not at all: through a temporary file) or, with none, to stdout. */
export async function writeOpenApi(file?: string): Promise<void> {
  const text = `${JSON.stringify(await openApiDocument(), null, 2)}\n`;
  if (!file) {
    process.stdout.write(text);
    return;
  }
  await fs.writeFile(`${file}.tmp`, text);
  await fs.rename(`${file}.tmp`, file);
}
