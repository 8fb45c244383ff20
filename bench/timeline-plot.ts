// Draws values over time as a small standalone SVG: panels stacked over one time axis (seconds), each with its
// own linear y axis and legend. A series is a line, or a step line for a setting that changes at instants (a
// receiver's capacity); spans shade stretches of time (a circuit open), markers draw a labelled vertical line.
export interface TimelineSeries {
  label: string;
  color: string;
  /** [seconds, value]; a value that is not finite breaks the line. */
  points: Array<[number, number]>;
  /** Holds each value until the next point (a setting), instead of a straight line between them. */
  step?: boolean;
  dashed?: boolean;
  width?: number;
}

export interface TimelinePanel {
  /** The y axis's label, with its unit. */
  label: string;
  series: TimelineSeries[];
  /** The top of the y axis; by default a round number above the highest value. The axis starts at 0. */
  max?: number;
  /** Height of the plotting area in pixels (default 180). */
  height?: number;
}

export interface Timeline {
  title: string;
  panels: TimelinePanel[];
  /** The time axis's label (default "time (s)"). */
  xLabel?: string;
  /** The time axis's range; by default that of the points. */
  from?: number;
  to?: number;
  markers?: Array<{ at: number; label: string }>;
  spans?: Array<{ from: number; to: number; label?: string; color?: string }>;
  width?: number;
}

const MARGIN = { left: 64, right: 200, top: 34, bottom: 46 };
const GAP = 34;

/** A round step (1, 2 or 5 times a power of ten) that cuts `range` into about `parts` parts. */
function niceStep(range: number, parts: number): number {
  const raw = range / parts;
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

const label = (value: number) =>
  Math.abs(value) >= 10_000 ? `${value / 1000}k` : String(Math.round(value * 1000) / 1000);

const xml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function timelinePlot(plot: Timeline): string {
  const width = plot.width ?? 800;
  const plotW = width - MARGIN.left - MARGIN.right;
  const times = plot.panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([t]) => t)));
  const from = plot.from ?? Math.min(0, ...times);
  const to = plot.to ?? Math.max(from + 1, ...times);
  const x = (t: number) => MARGIN.left + ((Math.min(to, Math.max(from, t)) - from) / (to - from)) * plotW;
  const heights = plot.panels.map((p) => p.height ?? 180);
  const height =
    MARGIN.top + heights.reduce((a, b) => a + b, 0) + GAP * (plot.panels.length - 1) + MARGIN.bottom;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>${xml(plot.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="20" font-size="14">${xml(plot.title)}</text>`,
  ];
  const xStep = niceStep(to - from, 8);
  let top = MARGIN.top;
  plot.panels.forEach((panel, n) => {
    const plotH = heights[n] as number;
    const values = panel.series.flatMap((s) => s.points.map(([, v]) => v).filter(Number.isFinite));
    const highest = Math.max(1, ...values);
    const yStep = niceStep(panel.max ?? highest * 1.05, 5);
    const yMax = panel.max ?? Math.ceil((highest * 1.05) / yStep) * yStep;
    const y = (v: number) => top + plotH - (Math.min(yMax, Math.max(0, v)) / yMax) * plotH;
    for (const span of plot.spans ?? []) {
      const x1 = x(span.from);
      parts.push(
        `<rect x="${x1}" y="${top}" width="${Math.max(1, x(span.to) - x1)}" height="${plotH}" fill="${span.color ?? '#ffe3e3'}"/>`,
      );
      if (span.label && n === 0)
        parts.push(
          `<text x="${x1 + 3}" y="${top + 12}" font-size="10" fill="#a61e4d">${xml(span.label)}</text>`,
        );
    }
    for (let v = 0; v <= yMax + yStep / 1000; v += yStep) {
      parts.push(
        `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`,
        `<text x="${MARGIN.left - 6}" y="${y(v) + 4}" text-anchor="end">${label(v)}</text>`,
      );
    }
    for (let t = Math.ceil(from / xStep) * xStep; t <= to + xStep / 1000; t += xStep) {
      parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${top}" y2="${top + plotH}" stroke="#f0f0f0"/>`);
      if (n === plot.panels.length - 1)
        parts.push(`<text x="${x(t)}" y="${top + plotH + 16}" text-anchor="middle">${label(t)}</text>`);
    }
    parts.push(
      `<rect x="${MARGIN.left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
      `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${xml(panel.label)}</text>`,
    );
    for (const marker of plot.markers ?? []) {
      parts.push(
        `<line x1="${x(marker.at)}" x2="${x(marker.at)}" y1="${top}" y2="${top + plotH}" stroke="#555" stroke-dasharray="2 3"/>`,
      );
      if (n === 0)
        parts.push(`<text x="${x(marker.at) + 4}" y="${top - 4}" font-size="11">${xml(marker.label)}</text>`);
    }
    panel.series.forEach((s, k) => {
      const segments: string[] = [];
      let open = false;
      let last: number | undefined;
      for (const [t, v] of s.points) {
        if (!Number.isFinite(v)) {
          open = false;
          continue;
        }
        if (!open) segments.push(`M${x(t).toFixed(1)},${y(v).toFixed(1)}`);
        else if (s.step && last !== undefined)
          segments.push(`L${x(t).toFixed(1)},${y(last).toFixed(1)} L${x(t).toFixed(1)},${y(v).toFixed(1)}`);
        else segments.push(`L${x(t).toFixed(1)},${y(v).toFixed(1)}`);
        open = true;
        last = v;
      }
      // A step line holds its last value to the end of the axis.
      const end = s.points.at(-1);
      if (s.step && end && Number.isFinite(end[1]) && end[0] < to)
        segments.push(`L${x(to).toFixed(1)},${y(end[1]).toFixed(1)}`);
      const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
      parts.push(
        `<path d="${segments.join(' ')}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.6}"${dash}/>`,
      );
      const ly = top + 14 + k * 18;
      parts.push(
        `<line x1="${width - MARGIN.right + 12}" x2="${width - MARGIN.right + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`,
        `<text x="${width - MARGIN.right + 42}" y="${ly + 4}">${xml(s.label)}</text>`,
      );
    });
    top += plotH + GAP;
  });
  parts.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${xml(plot.xLabel ?? 'time (s)')}</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}
