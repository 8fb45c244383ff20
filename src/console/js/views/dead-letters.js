// Dead letters: filters, replay one, the selected ones or every match, and discard.
import { api } from '../api.js';
import { badge, excerpt, h, link, show, table, when } from '../dom.js';
import { tell } from '../notice.js';
import { pagedList } from '../paging.js';

const REASONS = ['', 'exhausted', 'gone', 'endpoint_disabled', 'endpoint_deleted'];

/** A datetime-local input's value as RFC 3339, or undefined when empty. */
const instant = (input) => (input.value ? new Date(input.value).toISOString() : undefined);

export function deadLettersView(params) {
  const selected = new Set();
  const pages = pagedList('/v1/dead-letters', 100);
  return {
    async render(main) {
      const endpoint = h('input', {
        name: 'endpointId',
        value: params.get('endpointId') ?? '',
        placeholder: 'ep_…',
      });
      const reason = h(
        'select',
        { name: 'reason' },
        REASONS.map((r) => h('option', { value: r }, r || 'any')),
      );
      const since = h('input', { name: 'since', type: 'datetime-local' });
      const until = h('input', { name: 'until', type: 'datetime-local' });
      const pending = h('input', { name: 'notReplayed', type: 'checkbox', checked: true });
      const filter = () => ({
        endpointId: endpoint.value.trim() || undefined,
        reason: reason.value || undefined,
        since: instant(since),
        until: instant(until),
      });
      const body = h('div');
      const replaySelected = h(
        'button',
        { type: 'button', disabled: true, onclick: () => guarded(replayChosen) },
        'Replay selected',
      );
      const replayAll = h(
        'button',
        { type: 'button', class: 'secondary', onclick: () => guarded(replayMatching) },
        'Replay all matching',
      );

      async function guarded(work) {
        try {
          await work();
        } catch (error) {
          tell(error.message, true);
        }
      }
      async function replayChosen() {
        const ids = [...selected];
        let skipped = 0;
        for (const id of ids) {
          try {
            await api('POST', `/v1/dead-letters/${encodeURIComponent(id)}/replay`);
          } catch (error) {
            // Replayed meanwhile (another operator, another tab): a dead letter is replayed once.
            if (error.problem?.status !== 409) throw error;
            skipped += 1;
          }
        }
        selected.clear();
        const replayed = ids.length - skipped;
        tell(
          `Replayed ${replayed} dead letter${replayed === 1 ? '' : 's'}.` +
            (skipped ? ` ${skipped} had been replayed already.` : ''),
        );
        await refresh();
      }
      async function replayMatching() {
        const { matching } = await api('POST', '/v1/dead-letters/replay', {
          body: { ...filter(), dryRun: true },
        });
        if (matching === 0) return tell('Nothing matching is waiting to be replayed.');
        if (!confirm(`Replay ${matching} dead letters?`)) return;
        const { replayed } = await api('POST', '/v1/dead-letters/replay', { body: filter() });
        tell(`Replayed ${replayed} dead letters.`);
        await refresh();
      }
      const refresh = async () => {
        const page = await pages.load({ ...filter(), ...(pending.checked && { replayed: false }) });
        for (const id of selected) if (!page.rows.some((d) => d.id === id)) selected.delete(id);
        replaySelected.disabled = selected.size === 0;
        const pick = (letter) =>
          h('input', {
            type: 'checkbox',
            'aria-label': `select ${letter.id}`,
            checked: selected.has(letter.id),
            onchange: (event) => {
              if (event.target.checked) selected.add(letter.id);
              else selected.delete(letter.id);
              replaySelected.disabled = selected.size === 0;
            },
          });
        const button = (label, work, className = '') =>
          h('button', { type: 'button', class: `small ${className}`, onclick: () => guarded(work) }, label);
        show(
          body,
          table(
            [
              ['', pick],
              [
                'Dead letter / message',
                (d) => h('span', {}, d.id, h('br'), link(`#/messages/${d.messageId}`, d.messageId)),
                'mono',
              ],
              [
                'Endpoint',
                (d) =>
                  d.endpointId ? link(`#/endpoints/${d.endpointId}`, d.endpointId) : excerpt(d.url, 40),
                'mono',
              ],
              ['Event', (d) => d.eventType],
              ['Reason', (d) => badge(d.reason)],
              ['Last answer', (d) => d.lastResponseStatus ?? excerpt(d.lastError, 40)],
              ['Dead since', (d) => when(d.deadLetteredAt)],
              ['Replayed', (d) => when(d.replayedAt)],
              [
                '',
                (d) =>
                  h(
                    'span',
                    { class: 'row-actions' },
                    button('Replay', async () => {
                      await api('POST', `/v1/dead-letters/${encodeURIComponent(d.id)}/replay`);
                      tell(`Replayed ${d.id}: ${d.messageId} goes out again.`);
                      await refresh();
                    }),
                    button(
                      'Discard',
                      async () => {
                        await api('DELETE', `/v1/dead-letters/${encodeURIComponent(d.id)}`);
                        tell(`Discarded ${d.id}.`);
                        await refresh();
                      },
                      'danger',
                    ),
                  ),
              ],
            ],
            page.rows,
            'No dead letters match.',
          ),
          pages.footer(page, 'dead letters', refresh),
        );
      };
      const form = h(
        'form',
        {
          class: 'filters',
          onsubmit: (event) => {
            event.preventDefault();
            pages.reset();
            guarded(refresh);
          },
        },
        h('label', {}, 'Endpoint', endpoint),
        h('label', {}, 'Reason', reason),
        h('label', {}, 'Since', since),
        h('label', {}, 'Until', until),
        h('label', {}, 'Not replayed', pending),
        h('button', { type: 'submit' }, 'Filter'),
        replaySelected,
        replayAll,
      );
      show(main, h('h1', {}, 'Dead letters'), form, body);
      await refresh();
    },
  };
}
