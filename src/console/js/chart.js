// A stacked bar chart of an endpoint's attempts per time bucket (successes below, failures above), as SVG.
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
    { class: 'chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': 'attempts over time' },
    ...bars,
    svg('text', { x: 0, y: HEIGHT - 4 }, time(start)),
    svg('text', { x: WIDTH, y: HEIGHT - 4, 'text-anchor': 'end' }, 'now'),
    svg('text', { x: WIDTH / 2, y: HEIGHT - 4, 'text-anchor': 'middle' }, `max ${most} per bucket`),
  );
}
