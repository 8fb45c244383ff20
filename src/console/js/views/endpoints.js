// Endpoints: the list with each one's recent success rate, and one endpoint with its chart of attempts,
// secret rotation, a test event, and enabling or disabling it; and, live, what holds its deliveries back: its
// concurrency (the limit and the attempts in flight over the last minutes, a Retry-After pause) and its blocked
// ordering keys.
import { api } from '../api.js';
import { attemptsChart, concurrencyChart } from '../chart.js';
import { badge, excerpt, fields, h, link, secretField, show, table, when } from '../dom.js';
import { tell } from '../notice.js';

const rate = (stats) =>
  stats.successRate === null
    ? h('span', { class: 'muted' }, 'no attempts')
    : `${(stats.successRate * 100).toFixed(1)} % of ${stats.succeeded + stats.failed}`;

const path = (id, rest = '') => `/v1/endpoints/${encodeURIComponent(id)}${rest}`;

/** How far back the concurrency chart reaches; the page polls the endpoint every 2 s (main.js's refresh). */
const CONCURRENCY_WINDOW_MS = 5 * 60_000;
/** The blocked keys are read every this many polls: they change at the pace of retries, not of attempts. */
const KEYS_EVERY = 5;
/** The most blocked keys the page lists (the API's default page). */
const KEYS_SHOWN = 50;

const settings = (endpoint) =>
  `at most ${endpoint.maxConcurrency} in flight, ${endpoint.adaptiveConcurrency ? 'adaptive' : 'fixed'}`;

/** The concurrency now, in words and as the legend of the chart below it. */
function concurrencyNow(endpoint) {
  const { limit, inFlight } = endpoint.concurrency;
  return h(
    'p',
    { class: 'legend' },
    h('span', { class: 'key limit' }, 'Limit ', h('strong', {}, limit)),
    h('span', { class: 'key inFlight' }, 'In flight ', h('strong', {}, inFlight)),
    h(
      'span',
      { class: 'muted' },
      endpoint.adaptiveConcurrency
        ? `adapts between 1 and ${endpoint.maxConcurrency} to the receiver's answers`
        : `fixed at ${endpoint.maxConcurrency}`,
      ' · summed over the worker processes',
    ),
  );
}

/** A Retry-After's pause, while it lasts: no attempt goes to the endpoint until then. */
const pauseNotice = (endpoint) =>
  endpoint.pausedUntil
    ? h(
        'p',
        { class: 'error-text paused' },
        "Paused by the receiver's Retry-After: no attempt goes to it; the pause ends ",
        when(endpoint.pausedUntil),
        '.',
      )
    : undefined;

/** The endpoint's blocked ordering keys: each one's head failed its last attempt and holds the rest. */
function blockedKeysTable(endpointId, keys) {
  const queue = (key) =>
    `#/messages?${new URLSearchParams({ endpointId, orderingKey: key, status: 'pending' })}`;
  return [
    table(
      [
        ['Key', (k) => link(queue(k.orderingKey), k.orderingKey), 'mono'],
        ['Pending', (k) => k.pending],
        ['Head message', (k) => link(`#/messages/${k.head.messageId}`, k.head.messageId), 'mono'],
        ['Attempts', (k) => k.head.attemptCount],
        [
          'Last answer',
          (k) =>
            h(
              'span',
              { class: 'error-text', title: k.head.lastError ?? undefined },
              k.head.lastResponseStatus ?? excerpt(k.head.lastError, 60),
            ),
        ],
        ['Next attempt', (k) => when(k.head.nextAttemptAt)],
      ],
      keys,
      'No blocked ordering keys: nothing waits behind a failed message.',
    ),
    keys.length >= KEYS_SHOWN &&
      h('p', { class: 'muted more' }, `Showing the oldest ${KEYS_SHOWN} blocked keys; there may be more.`),
  ];
}

export function endpointsView() {
  return {
    async render(main) {
      const page = await api('GET', '/v1/endpoints', { query: { limit: 100 } });
      const stats = await Promise.all(page.data.map((e) => api('GET', path(e.id, '/stats'))));
      show(
        main,
        h('h1', {}, 'Endpoints'),
        table(
          [
            ['Endpoint', (e) => link(`#/endpoints/${e.id}`, e.id), 'mono'],
            ['URL', (e) => e.url],
            ['State', (e) => badge(e.disabled ? 'disabled' : 'enabled')],
            ['Success (24 h)', (e) => rate(stats[page.data.indexOf(e)])],
            ['Description', (e) => e.description],
          ],
          page.data,
          'No endpoints registered.',
        ),
      );
    },
  };
}

export function endpointView(id) {
  let span = '24h';
  /** The polls of the last CONCURRENCY_WINDOW_MS, oldest first: `{ at, limit, inFlight }`. */
  const samples = [];
  let polls = 0;
  return {
    async render(main) {
      const chart = h('div');
      // Filled by the polls; kept across redraws (after an action), so the chart keeps its history.
      const concurrency = h('div', { class: 'concurrency-panel' });
      const blocked = h('div', { class: 'blocked-keys' });
      const drawConcurrency = (endpoint) => {
        const now = Date.now();
        samples.push({ at: now, ...endpoint.concurrency });
        while (samples.length > 0 && samples[0].at < now - CONCURRENCY_WINDOW_MS - 2_000) samples.shift();
        show(
          concurrency,
          pauseNotice(endpoint),
          concurrencyNow(endpoint),
          concurrencyChart(samples, CONCURRENCY_WINDOW_MS, now),
        );
      };
      const drawBlocked = async () => {
        const keys = await api('GET', path(id, '/ordering-keys'), { query: { limit: KEYS_SHOWN } });
        show(blocked, blockedKeysTable(id, keys.data));
      };
      const drawChart = async () => {
        const stats = await api('GET', path(id, '/stats'), { query: { window: span } });
        show(chart, h('p', {}, 'Success rate: ', rate(stats), ` over ${span}`), attemptsChart(stats));
      };
      const draw = async () => {
        const endpoint = await api('GET', path(id));
        const windowPicker = h(
          'select',
          {
            name: 'window',
            onchange: () => {
              span = windowPicker.value;
              drawChart();
            },
          },
          ['1h', '24h', '7d'].map((w) => h('option', { value: w, selected: w === span }, w)),
        );
        const secret = secretField(endpoint.secret);
        const act = (label, work, className = 'secondary') =>
          h(
            'button',
            {
              type: 'button',
              class: className,
              onclick: async () => {
                try {
                  await work();
                } catch (error) {
                  tell(error.message, true);
                }
              },
            },
            label,
          );
        show(
          main,
          h('h1', {}, 'Endpoint ', h('span', { class: 'mono' }, endpoint.id)),
          fields([
            ['URL', endpoint.url],
            ['State', badge(endpoint.disabled ? 'disabled' : 'enabled')],
            ['Events', endpoint.eventTypes?.join(', ') ?? 'every job event'],
            ['Rate limit', endpoint.rateLimitPerSecond ? `${endpoint.rateLimitPerSecond}/s` : 'none'],
            ['Concurrency', settings(endpoint)],
            ['Description', endpoint.description],
            ['Signing secret', secret.element],
            ['Created', when(endpoint.createdAt)],
          ]),
          h(
            'div',
            { class: 'actions more' },
            act('Rotate secret', async () => {
              const { secret: next } = await api('POST', path(id, '/secret/rotate'));
              secret.reveal(next);
              tell('Secret rotated. The previous one keeps signing beside it for 24 hours.');
            }),
            act('Send test event', async () => {
              const { messageId } = await api('POST', path(id, '/test'));
              tell(`Test event sent as ${messageId}.`);
            }),
            act(endpoint.disabled ? 'Enable' : 'Disable', async () => {
              await api('PATCH', path(id), { body: { disabled: !endpoint.disabled } });
              await draw();
            }),
            link(`#/messages?endpointId=${id}`, 'Messages'),
            link(`#/dead-letters?endpointId=${id}`, 'Dead letters'),
          ),
          h('h2', {}, 'Deliveries and failures'),
          h('form', { class: 'filters' }, h('label', {}, 'Window', windowPicker)),
          chart,
          h('h2', {}, 'Concurrency'),
          concurrency,
          h('h2', {}, 'Blocked ordering keys'),
          blocked,
        );
        drawConcurrency(endpoint);
        await Promise.all([drawChart(), drawBlocked()]);
      };
      await draw();
      // Polled every 2 s while the page is shown (main.js stops it when the page changes).
      return async () => {
        polls += 1;
        const [endpoint] = await Promise.all([
          api('GET', path(id)),
          polls % KEYS_EVERY === 0 ? drawBlocked() : undefined,
        ]);
        drawConcurrency(endpoint);
      };
    },
  };
}
