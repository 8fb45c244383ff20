// Messages: the list with filters, and one message with every attempt (status, latency, response excerpt).
import { api } from '../api.js';
import { badge, excerpt, fields, h, link, show, table, when } from '../dom.js';
import { tell } from '../notice.js';
import { pagedList } from '../paging.js';

/**
 * A message's status, and "waiting" when it is pending behind the message before it of its ordering key to the
 * same receiver (not attempted until that one is delivered or dead-lettered).
 */
export const messageStatus = (message) =>
  message.waiting
    ? h(
        'span',
        { class: 'row-actions' },
        badge(message.status),
        h(
          'span',
          { class: 'badge waiting', title: 'behind the message before it of its ordering key' },
          'waiting',
        ),
      )
    : badge(message.status);

export function messagesView(params) {
  const filter = {
    endpointId: params.get('endpointId') ?? '',
    orderingKey: params.get('orderingKey') ?? '',
    status: params.get('status') ?? '',
  };
  const pages = pagedList('/v1/messages', 50);
  return {
    async render(main) {
      const body = h('div');
      const endpoint = h('input', { name: 'endpointId', value: filter.endpointId, placeholder: 'ep_…' });
      const orderingKey = h('input', { name: 'orderingKey', value: filter.orderingKey, placeholder: 'any' });
      const status = h(
        'select',
        { name: 'status' },
        ['', 'pending', 'delivered', 'dead'].map((s) =>
          h('option', { value: s, selected: s === filter.status }, s || 'any'),
        ),
      );
      const form = h(
        'form',
        {
          class: 'filters',
          onsubmit: (event) => {
            event.preventDefault();
            filter.endpointId = endpoint.value.trim();
            filter.orderingKey = orderingKey.value.trim();
            filter.status = status.value;
            pages.reset();
            refresh().catch((error) => tell(error.message, true));
          },
        },
        h('label', {}, 'Endpoint', endpoint),
        h('label', {}, 'Ordering key', orderingKey),
        h('label', {}, 'Status', status),
        h('button', { type: 'submit' }, 'Filter'),
      );
      show(main, h('h1', {}, 'Messages'), form, body);
      const refresh = async () => {
        const page = await pages.load(filter);
        show(
          body,
          table(
            [
              ['Message', (m) => link(`#/messages/${m.id}`, m.id), 'mono'],
              ['Event', (m) => m.eventType],
              ['Status', messageStatus],
              ['Key', (m) => m.orderingKey, 'mono'],
              ['Attempts', (m) => m.attemptCount],
              ['Last answer', (m) => m.lastResponseStatus ?? excerpt(m.lastError, 40)],
              [
                'Endpoint',
                (m) =>
                  m.endpointId ? link(`#/endpoints/${m.endpointId}`, m.endpointId) : excerpt(m.url, 40),
                'mono',
              ],
              ['Created', (m) => when(m.createdAt)],
            ],
            page.rows,
            'No messages match.',
          ),
          pages.footer(page, 'messages', refresh),
        );
      };
      await refresh();
      return refresh;
    },
  };
}

export function messageView(id) {
  return {
    async render(main) {
      const draw = async () => {
        const message = await api('GET', `/v1/messages/${encodeURIComponent(id)}`);
        show(
          main,
          h('h1', {}, 'Message ', h('span', { class: 'mono' }, message.id)),
          fields([
            ['Event', message.eventType],
            ['Status', messageStatus(message)],
            ['Job', message.jobId ? link(`#/jobs/${message.jobId}`, message.jobId) : null],
            ...(message.orderingKey
              ? [
                  [
                    'Ordering key',
                    h(
                      'span',
                      {},
                      h('span', { class: 'mono' }, message.orderingKey),
                      ' ',
                      link(
                        `#/messages?${new URLSearchParams({ orderingKey: message.orderingKey, status: 'pending' })}`,
                        'its pending messages',
                      ),
                    ),
                  ],
                ]
              : []),
            ['To', message.endpointId ? link(`#/endpoints/${message.endpointId}`, message.url) : message.url],
            ['Next attempt', when(message.nextAttemptAt)],
            ['Delivered', when(message.deliveredAt)],
            ['Payload', h('span', { class: 'mono' }, excerpt(message.payload, 600))],
          ]),
          h(
            'div',
            { class: 'actions more' },
            h(
              'button',
              {
                type: 'button',
                onclick: async () => {
                  try {
                    await api('POST', `/v1/messages/${encodeURIComponent(id)}/resend`);
                    tell(`${id} will be sent again (same webhook-id).`);
                    await draw();
                  } catch (error) {
                    tell(error.message, true);
                  }
                },
              },
              'Resend',
            ),
          ),
          h('h2', {}, 'Attempts'),
          table(
            [
              ['#', (a) => message.attempts.indexOf(a) + 1],
              ['When', (a) => when(a.attemptedAt)],
              ['Status', (a) => a.responseStatus ?? '—'],
              ['Latency', (a) => `${a.durationMs} ms`],
              ['Response', (a) => excerpt(a.responseBody, 80), 'mono'],
              ['Error', (a) => a.error],
            ],
            message.attempts,
            'No attempts yet.',
          ),
        );
      };
      await draw();
    },
  };
}
