// docs/openapi.json is the contract published in the repository: it must be what the code serves.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { openApiDocument } from '../../src/http/openapi-document.ts';

t.test('docs/openapi.json is the document the routes generate (else: npm run openapi)', async (t) => {
  const file = path.resolve(import.meta.dirname, '..', '..', 'docs', 'openapi.json');
  const published = JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
  t.same(
    published,
    await openApiDocument(),
    'docs/openapi.json is stale: run `npm run openapi` and commit it',
  );
});
