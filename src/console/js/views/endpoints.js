// Endpoints: the list with each one's recent success rate, and one endpoint with its chart of attempts,
// secret rotation, a test event, and enabling or disabling it.
import { api } from '../api.js';
import { attemptsChart } from '../chart.js';
import { badge, fields, h, link, secretField, show, table, when } from '../dom.js';
import { tell } from '../notice.js';

const rate = (stats) =>
  stats.successRate === null
    ? h('span', { class: 'muted' }, 'no attempts')
    : `${(stats.successRate * 100).toFixed(1)} % of ${stats.succeeded + stats.failed}`;

const path = (id, rest = '') => `/v1/endpoints/${encodeURIComponent(id)}${rest}`;

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
  return {
    async render(main) {
      const chart = h('div');
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
        );
        await drawChart();
      };
      await draw();
    },
  };
}
