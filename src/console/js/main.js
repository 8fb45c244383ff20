// The console's shell: log in with an API key, route by the URL's hash to a view, refresh the live ones.
import { api, session } from './api.js';
import { h, show } from './dom.js';
import { hush, tell } from './notice.js';
import { deadLettersView } from './views/dead-letters.js';
import { endpointsView, endpointView } from './views/endpoints.js';
import { jobsView, jobView } from './views/jobs.js';
import { messagesView, messageView } from './views/messages.js';
import { schedulesView, scheduleView } from './views/schedules.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');

/**
 * Views by route: `#/jobs` → jobsView(params), `#/jobs/job_…` → jobView('job_…'), and so on; `?name=value`
 * after the route gives a list view its first filters.
 */
const routes = {
  jobs: [jobsView, jobView],
  schedules: [schedulesView, scheduleView],
  endpoints: [endpointsView, endpointView],
  messages: [messagesView, messageView],
  'dead-letters': [deadLettersView],
};

let stopRefresh = () => {};

function loginView() {
  const key = h('input', {
    type: 'password',
    name: 'key',
    autocomplete: 'off',
    required: true,
    placeholder: 'hr_…',
  });
  const form = h(
    'form',
    {
      onsubmit: async (event) => {
        event.preventDefault();
        session.login(key.value.trim());
        try {
          await api('GET', '/v1/endpoints', { query: { limit: 1 } });
          location.hash = '#/jobs';
        } catch (error) {
          session.logout();
          tell(error.problem?.status === 403 ? 'That key cannot use the tenant API.' : error.message, true);
        }
      },
    },
    h('label', {}, 'Tenant API key', key),
    h('button', { type: 'submit' }, 'Log in'),
  );
  return h('section', { class: 'login' }, h('h1', {}, 'hookrelay console'), form);
}

async function render() {
  stopRefresh();
  stopRefresh = () => {};
  const [route, search] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, id] = route.split('/');
  if (!session.key() || name === 'login') {
    // One address for the form, so a refused key's message is not cleared by a move to it.
    if (location.hash !== '#/login') return location.replace('#/login');
    nav.hidden = true;
    show(main, loginView());
    return;
  }
  nav.hidden = false;
  for (const a of nav.querySelectorAll('a'))
    a.classList.toggle('active', a.getAttribute('href') === `#/${name}`);
  const [list, detail] = routes[name] ?? routes.jobs;
  const view = id && detail ? detail(decodeURIComponent(id)) : list(new URLSearchParams(search));
  try {
    // A view renders once, and may return a refresh to run every few seconds while it is shown.
    const refresh = await view.render(main);
    if (refresh) {
      // A refresh slower than the interval (several pages opened, a slow link) is not started twice at once.
      let running = false;
      const timer = setInterval(async () => {
        if (running) return;
        running = true;
        await refresh()
          .catch((error) => tell(error.message, true))
          .finally(() => {
            running = false;
          });
      }, 2000);
      stopRefresh = () => clearInterval(timer);
    }
  } catch (error) {
    show(main, h('p', { class: 'muted' }, error.message));
  }
}

document.getElementById('logout').addEventListener('click', () => {
  session.logout();
  location.hash = '#/login';
});
window.addEventListener('hashchange', () => {
  hush();
  render();
});
render();
