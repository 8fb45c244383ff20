// The endpoint page's charts, as SVG: its attempts per time bucket (stacked bars, successes below, failures
// above) and its delivery concurrency over the last minutes (the limit and the attempts in flight, as lines).
const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 720;
const HEIGHT = 160;
const AXIS = 18;

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

/** `stats` as GET /v1/endpoints/:id/stats returns it: 24 buckets from `since`, `bucketSeconds` each. */
export function attemptsChart(stats) {
  const count = 24;
  const byStart = new Map(stats.buckets.map((b) => [Date.parse(b.start), b]));
  const start = Date.parse(stats.since);
  const step = stats.bucketSeconds * 1000;
  const buckets = Array.from({ length: count }, (_, i) => {
    const at = start + i * step;
    const found = [...byStart.entries()].find(([s]) => s >= at && s < at + step)?.[1];
    return { at, succeeded: found?.succeeded ?? 0, failed: found?.failed ?? 0 };
  });
  const most = Math.max(1, ...buckets.map((b) => b.succeeded + b.failed));
  const slot = WIDTH / count;
  const plot = HEIGHT - AXIS;
  const bars = buckets.flatMap((b, i) => {
    const ok = (b.succeeded / most) * plot;
    const bad = (b.failed / most) * plot;
    const x = i * slot + 2;
    const label = `${new Date(b.at).toLocaleString()}: ${b.succeeded} delivered, ${b.failed} failed`;
    return [
      svg('rect', { class: 'ok', x, y: plot - ok, width: slot - 4, height: ok }, svg('title', {}, label)),
      svg(
        'rect',
        { class: 'bad', x, y: plot - ok - bad, width: slot - 4, height: bad },
        svg('title', {}, label),
      ),
    ];
  });
  // The window may span days: the axis says the date as well as the time, on a 24-hour clock.
  const time = (at) =>
    new Date(at).toLocaleString([], {
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
  return svg(
    'svg',
    {
      class: 'chart attempts',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-label': 'attempts over time',
    },
    ...bars,
    svg('text', { x: 0, y: HEIGHT - 4 }, time(start)),
    svg('text', { x: WIDTH, y: HEIGHT - 4, 'text-anchor': 'end' }, 'now'),
    svg('text', { x: WIDTH / 2, y: HEIGHT - 4, 'text-anchor': 'middle' }, `max ${most} per bucket`),
  );
}

/** The concurrency chart is lower: two lines need less height than bars to read. */
const LINES_HEIGHT = 120;

const LINES = [
  ['limit', 'limit'],
  ['inFlight', 'in flight'],
];

/**
 * The limit and the attempts in flight over the last `windowMs`, as step lines: `samples` are
 * `{ at, limit, inFlight }` (`at` in ms), oldest first, as the endpoint page polls them. The scale's top is the
 * highest value seen (at least 1), so a limit far below its maximum still reads. The page draws the legend
 * (classes `limit` and `inFlight`).
 */
export function concurrencyChart(samples, windowMs, now = Date.now()) {
  const plot = LINES_HEIGHT - AXIS;
  const top = Math.max(1, ...samples.flatMap((s) => [s.limit, s.inFlight]));
  // Room on the right for the dots marking the values now.
  const right = WIDTH - 4;
  const x = (at) => Math.max(0, ((at - (now - windowMs)) / windowMs) * right);
  // A little room above the top, so a line along it is not cut by the frame.
  const y = (value) => plot - (value / top) * (plot - 14);
  const series = LINES.flatMap(([field, label]) => {
    if (samples.length === 0) return [];
    // Each value holds until the next sample: a step, not a slope between two polls.
    const points = samples.flatMap((s, i) => {
      const next = samples[i + 1];
      return [
        [x(s.at), y(s[field])],
        [next ? x(next.at) : x(now), y(s[field])],
      ];
    });
    const last = samples.at(-1);
    const title = svg('title', {}, `${label}: ${last[field]} now`);
    return [
      svg('polyline', { class: `line ${field}`, points: points.map((p) => p.join(',')).join(' ') }, title),
      svg(
        'circle',
        { class: `dot ${field}`, cx: x(now), cy: y(last[field]), r: 3 },
        svg('title', {}, title.textContent),
      ),
    ];
  });
  const minutes = Math.round(windowMs / 60_000);
  return svg(
    'svg',
    {
      class: 'chart concurrency',
      viewBox: `0 0 ${WIDTH} ${LINES_HEIGHT}`,
      role: 'img',
      'aria-label': 'concurrency over time',
    },
    svg('line', { class: 'grid', x1: 0, x2: WIDTH, y1: y(top), y2: y(top) }),
    svg('line', { class: 'grid', x1: 0, x2: WIDTH, y1: plot, y2: plot }),
    ...series,
    svg('text', { x: 0, y: LINES_HEIGHT - 4 }, `${minutes} min ago`),
    svg('text', { x: WIDTH / 2, y: LINES_HEIGHT - 4, 'text-anchor': 'middle' }, `scale 0–${top}`),
    svg('text', { x: WIDTH, y: LINES_HEIGHT - 4, 'text-anchor': 'end' }, 'now'),
  );
}
