// Jobs: the list with live status and progress, and one job with its deliveries.
import { api } from '../api.js';
import { badge, excerpt, fields, h, link, show, table, when } from '../dom.js';
import { pagedList } from '../paging.js';
import { messageStatus } from './messages.js';

const STATUSES = ['', 'queued', 'running', 'succeeded', 'failed', 'cancelled'];

const progress = (job) =>
  h('span', {}, h('progress', { max: 100, value: job.progress.percent }), ` ${job.progress.percent}%`);

export function jobsView() {
  let status = '';
  const pages = pagedList('/v1/jobs', 50);
  return {
    async render(main) {
      const body = h('div');
      const filter = h(
        'select',
        {
          name: 'status',
          onchange: () => {
            status = filter.value;
            pages.reset();
            refresh();
          },
        },
        STATUSES.map((s) => h('option', { value: s }, s || 'any status')),
      );
      show(
        main,
        h('h1', {}, 'Jobs'),
        h('form', { class: 'filters' }, h('label', {}, 'Status', filter)),
        body,
      );
      const refresh = async () => {
        const page = await pages.load({ status });
        show(
          body,
          table(
            [
              ['Job', (j) => link(`#/jobs/${j.id}`, j.id), 'mono'],
              ['Type', (j) => j.type],
              ['Status', (j) => badge(j.status)],
              ['Progress', progress],
              ['Attempts', (j) => `${j.attempts}/${j.maxAttempts}`],
              ['Created', (j) => when(j.createdAt)],
            ],
            page.rows,
            'No jobs yet.',
          ),
          pages.footer(page, 'jobs', refresh),
        );
      };
      await refresh();
      return refresh;
    },
  };
}

/**
 * A remote or push attempt's lease (when a worker must report by) and its worker's last report, while they are
 * set: what tells a stuck worker from a slow one.
 */
const remoteFields = (job) => [
  ...(job.leaseExpiresAt ? [['Lease expires', when(job.leaseExpiresAt)]] : []),
  ...(job.lastHeartbeatAt ? [['Last heartbeat', when(job.lastHeartbeatAt)]] : []),
];

export function jobView(id) {
  return {
    async render(main) {
      const refresh = async () => {
        const [job, deliveries] = await Promise.all([
          api('GET', `/v1/jobs/${encodeURIComponent(id)}`),
          api('GET', `/v1/jobs/${encodeURIComponent(id)}/deliveries`),
        ]);
        show(
          main,
          h('h1', {}, 'Job ', h('span', { class: 'mono' }, job.id)),
          fields([
            ['Type', job.type],
            ['Execution', job.execution],
            ['Status', badge(job.status)],
            ...(job.orderingKey ? [['Ordering key', h('span', { class: 'mono' }, job.orderingKey)]] : []),
            ...(job.scheduleId ? [['Schedule', link(`#/schedules/${job.scheduleId}`, job.scheduleId)]] : []),
            ...remoteFields(job),
            [
              'Progress',
              h('span', {}, progress(job), job.progress.message ? ` ${job.progress.message}` : ''),
            ],
            ['Attempts', `${job.attempts} of ${job.maxAttempts}`],
            ['Input', h('span', { class: 'mono' }, excerpt(job.input, 400))],
            ['Result', h('span', { class: 'mono' }, excerpt(job.result, 400))],
            ['Error', job.error],
            ['Created', when(job.createdAt)],
            ['Completed', when(job.completedAt)],
          ]),
          h('h2', {}, 'Deliveries'),
          table(
            [
              ['Message', (m) => link(`#/messages/${m.id}`, m.id), 'mono'],
              ['Event', (m) => m.eventType],
              ['Status', messageStatus],
              ['Attempts', (m) => m.attemptCount],
              ['To', (m) => excerpt(m.url, 50)],
            ],
            deliveries.data,
            'Nothing sent yet.',
          ),
        );
        return job;
      };
      const job = await refresh();
      return ['queued', 'running'].includes(job.status) ? refresh : undefined;
    },
  };
}
