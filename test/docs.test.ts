// The repository stands alone: every relative link in the README and docs/ names a file inside it.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { ENVIRONMENT_VARIABLES } from '../src/config/config.ts';

const root = path.resolve(import.meta.dirname, '..');
const pages = [
  'README.md',
  ...(await fs.readdir(path.join(root, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
];

for (const page of pages) {
  t.test(page, async (t) => {
    const text = await fs.readFile(path.join(root, page), 'utf8');
    const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)]
      .map((match) => (match[1] as string).split('#')[0] as string)
      .filter((target) => target !== '' && !/^[a-z]+:/.test(target));
    for (const target of targets) {
      const file = path.resolve(path.dirname(path.join(root, page)), target);
      t.ok(file.startsWith(`${root}${path.sep}`), `${target} stays inside the repository`);
      t.ok(
        await fs.access(file).then(
          () => true,
          () => false,
        ),
        `${target} exists`,
      );
    }
  });
}

t.test("the README's Configuration table lists every variable the service reads", async (t) => {
  const readme = await fs.readFile(path.join(root, 'README.md'), 'utf8');
  const table = readme.slice(
    readme.indexOf('## Configuration'),
    readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1),
  );
  const rows = table.split('\n').filter((line) => line.startsWith('| `'));
  for (const name of ENVIRONMENT_VARIABLES)
    t.ok(
      rows.some((row) => row.split('|')[1]?.includes(`\`${name}\``)),
      name,
    );
});
