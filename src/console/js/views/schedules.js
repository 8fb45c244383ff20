// Schedules: the list with each one's state, next and last run and counts, and one schedule with its next runs
// (in its own zone and the browser's), its job template, its recent jobs, pause or resume, trigger and delete.
import { api } from '../api.js';
import { badge, excerpt, fields, h, link, show, table, when } from '../dom.js';
import { tell } from '../notice.js';
import { pagedList } from '../paging.js';

const path = (id, rest = '') => `/v1/schedules/${encodeURIComponent(id)}${rest}`;

const state = (schedule) => badge(schedule.paused ? 'paused' : 'active');

const counts = (schedule) => `${schedule.occurrences.fired} fired, ${schedule.occurrences.skipped} skipped`;

/** Why the latest due occurrence made no job, while it is so. */
const lastError = (schedule, max) =>
  schedule.lastError
    ? h('span', { class: 'error-text', title: schedule.lastError }, excerpt(schedule.lastError, max))
    : undefined;

/** When the schedule last made a job, and that job. */
const lastRun = (schedule) =>
  schedule.lastJobId
    ? h(
        'span',
        {},
        when(schedule.lastRunAt),
        ' ',
        h('span', { class: 'mono' }, link(`#/jobs/${schedule.lastJobId}`, schedule.lastJobId)),
      )
    : when(schedule.lastRunAt);

/** The browser's own zone, as the local column's heading names it. */
const localZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'local';

/**
 * An instant as a wall-clock time in `timeZone` (the browser's when undefined), with the day and the zone's
 * abbreviation, on a 24-hour clock. A zone this browser does not know shows the instant as given.
 */
function wallClock(iso, timeZone) {
  try {
    return new Date(iso).toLocaleString([], {
      timeZone,
      weekday: 'short',
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    });
  } catch {
    return iso;
  }
}

export function schedulesView() {
  const pages = pagedList('/v1/schedules', 50);
  return {
    async render(main) {
      const body = h('div');
      show(main, h('h1', {}, 'Schedules'), body);
      const refresh = async () => {
        const page = await pages.load({});
        show(
          body,
          table(
            [
              [
                'Schedule',
                (s) =>
                  s.name
                    ? h(
                        'span',
                        {},
                        link(`#/schedules/${s.id}`, s.name),
                        h('br'),
                        h('span', { class: 'mono muted' }, s.id),
                      )
                    : h('span', { class: 'mono' }, link(`#/schedules/${s.id}`, s.id)),
              ],
              ['Cron', (s) => s.cron, 'mono'],
              ['Zone', (s) => s.timezone],
              ['State', state],
              ['Next run', (s) => when(s.nextRuns[0])],
              ['Last run', lastRun],
              ['Occurrences', counts],
              ['Last error', (s) => lastError(s, 60)],
            ],
            page.rows,
            'No schedules yet.',
          ),
          pages.footer(page, 'schedules', refresh),
        );
      };
      await refresh();
      return refresh;
    },
  };
}

export function scheduleView(id) {
  return {
    async render(main) {
      // Set once this page deleted the schedule: a refresh already under way then finds it gone, and says
      // nothing of it.
      let deleted = false;
      let schedule;
      const details = h('div');
      const runs = h('div');
      const template = h('pre', { class: 'json mono' });
      const recent = h('div');
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
      const named = () => (schedule.name ? `${schedule.name} (${schedule.id})` : schedule.id);
      const pauseOrResume = act('Pause', async () => {
        const resuming = schedule.paused;
        schedule = await api('POST', path(id, resuming ? '/resume' : '/pause'));
        tell(
          resuming
            ? `Resumed ${named()}: occurrences from now on make jobs.`
            : `Paused ${named()}: no occurrence makes a job until it is resumed.`,
        );
        await draw();
      });
      const trigger = act('Trigger now', async () => {
        const { jobId } = await api('POST', path(id, '/trigger'));
        tell([
          'Triggered ',
          named(),
          ': ',
          h('span', { class: 'mono' }, link(`#/jobs/${jobId}`, jobId)),
          '.',
        ]);
        await draw();
      });
      const remove = act(
        'Delete',
        async () => {
          if (!confirm(`Delete schedule ${named()}? The jobs it made stay.`)) return;
          await api('DELETE', path(id));
          deleted = true;
          // Moving hushes the notice (main.js), so it is said once the move has happened.
          const said = `Deleted schedule ${named()}.`;
          window.addEventListener('hashchange', () => tell(said), { once: true });
          location.hash = '#/schedules';
        },
        'danger',
      );

      const draw = async () => {
        let loaded;
        try {
          loaded = await Promise.all([
            api('GET', path(id)),
            api('GET', '/v1/jobs', { query: { scheduleId: id, limit: 10 } }),
          ]);
        } catch (error) {
          if (deleted) return;
          throw error;
        }
        if (deleted) return;
        const [current, jobs] = loaded;
        schedule = current;
        pauseOrResume.textContent = schedule.paused ? 'Resume' : 'Pause';
        show(
          details,
          fields([
            ['Name', schedule.name],
            ['Cron', h('span', { class: 'mono' }, schedule.cron)],
            ['Time zone', schedule.timezone],
            ['State', state(schedule)],
            [
              'Overlap',
              schedule.overlap === 'skip'
                ? 'skip: no job while the previous one is queued or running'
                : 'allow: a job at every occurrence',
            ],
            ['Job type', schedule.job.type],
            ['Next run', when(schedule.nextRuns[0])],
            ['Last run', lastRun(schedule)],
            ['Occurrences', counts(schedule)],
            ['Last error', lastError(schedule, 400)],
            ['Created', when(schedule.createdAt)],
            ['Updated', when(schedule.updatedAt)],
          ]),
        );
        show(
          runs,
          table(
            [
              ['When', (run) => when(run)],
              [`In ${schedule.timezone}`, (run) => wallClock(run, schedule.timezone)],
              [`Your time (${localZone()})`, (run) => wallClock(run)],
            ],
            schedule.nextRuns,
            schedule.paused ? 'None while paused.' : 'None ahead.',
          ),
        );
        // Rewritten only when it changed, so a refresh does not drop a selection in it.
        const json = JSON.stringify(schedule.job, null, 2);
        if (template.textContent !== json) template.textContent = json;
        show(
          recent,
          table(
            [
              ['Job', (j) => link(`#/jobs/${j.id}`, j.id), 'mono'],
              ['Type', (j) => j.type],
              ['Status', (j) => badge(j.status)],
              ['Attempts', (j) => `${j.attempts}/${j.maxAttempts}`],
              ['Created', (j) => when(j.createdAt)],
            ],
            jobs.data,
            'No jobs made yet.',
          ),
        );
      };

      await draw();
      show(
        main,
        h('h1', {}, 'Schedule ', h('span', { class: 'mono' }, schedule.id)),
        details,
        h('div', { class: 'actions more' }, pauseOrResume, trigger, remove),
        h('h2', {}, 'Next runs'),
        runs,
        h('h2', {}, 'Job template'),
        template,
        h('h2', {}, 'Recent jobs'),
        recent,
      );
      // Next runs, counts and the recent jobs' states stay current while the page is shown.
      return draw;
    },
  };
}
