// Lists longer than a page: load as many rows as the operator asked to see (a page more per click), say how
// many are shown and whether more exist. A refresh reloads that many rows from the top, so a live list stays
// current without losing what was opened.
import { api } from './api.js';
import { h } from './dom.js';
import { tell } from './notice.js';

/** The API's largest page. */
const MOST_PER_REQUEST = 100;

export function pagedList(path, step) {
  let wanted = step;
  return {
    /** The first rows for `query`, as many as asked for, and whether more exist. */
    async load(query) {
      const rows = [];
      let cursor;
      do {
        const page = await api('GET', path, {
          query: { ...query, limit: Math.min(MOST_PER_REQUEST, wanted - rows.length), cursor },
        });
        rows.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor && rows.length < wanted);
      return { rows, more: Boolean(cursor) };
    },
    /** Back to one page (new filters). */
    reset() {
      wanted = step;
    },
    /** "Showing 50 jobs; there are more." and a button for the next `step`, which then runs `reload`. */
    footer({ rows, more }, noun, reload) {
      if (rows.length === 0) return undefined;
      return h(
        'p',
        { class: 'muted more paging' },
        `Showing ${rows.length} ${noun}${more ? '; there are more.' : ', all there are.'} `,
        more &&
          h(
            'button',
            {
              type: 'button',
              class: 'secondary small',
              onclick: async () => {
                wanted += step;
                await reload().catch((error) => tell(error.message, true));
              },
            },
            `Show ${step} more`,
          ),
      );
    },
  };
}
