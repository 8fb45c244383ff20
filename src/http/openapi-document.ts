// The OpenAPI document without a running service: the app is built on a context that holds only the config and
// a silent log, made ready (which compiles the routes' schemas into the document) and never listens. Whatever
// else a route would reach fails loudly, so a route that touched the database while being registered would be
// caught here, not served wrong. `hookrelay openapi` prints it; docs/openapi.json is its output.

import { loadConfig } from '../config/config.ts';
import type { AppContext } from '../context.ts';
import { createLogger } from '../log.ts';
import { buildApp } from './app.ts';

export async function openApiDocument(): Promise<unknown> {
  // The defaults, not this machine's environment: the document must not depend on who generates it.
  const config = loadConfig({});
  const context = new Proxy({ config, log: createLogger('silent') } as AppContext, {
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
