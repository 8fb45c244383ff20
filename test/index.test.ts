// index.js (what `import … from 'hookrelay'` loads) lists src/index.ts's exports by hand: the two must agree.
import t from 'tap';
import * as api from '../src/index.ts';

// Plain JavaScript with no declarations of its own (the package's types are dist/index.d.ts).
const entry = (await import(new URL('../index.js', import.meta.url).href)) as Record<string, unknown>;

t.same(
  Object.keys(entry).sort(),
  Object.keys(api).sort(),
  'index.js re-exports exactly what src/index.ts exports',
);
t.equal(entry.defineTask, api.defineTask, 'in the repository, the same functions (its sources)');
