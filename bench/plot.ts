// Draws latency percentiles over offered load as a small standalone SVG (log-scale latency axis).
interface Point {
  throughput: number;
  p50?: number;
  p95?: number;
  p99?: number;
}

const WIDTH = 640;
const HEIGHT = 360;
const MARGIN = { left: 64, right: 110, top: 30, bottom: 50 };
const SERIES = [
  { key: 'p50', color: '#2b8a3e' },
  { key: 'p95', color: '#e67700' },
  { key: 'p99', color: '#c92a2a' },
] as const;

export function latencyPlot(points: Point[]): string {
  const usable = points.filter((p) => p.p99 !== undefined && Number.isFinite(p.p99));
  const values = usable.flatMap((p) => SERIES.map((s) => Math.max(1, p[s.key] ?? 1)));
  const top = 10 ** Math.ceil(Math.log10(Math.max(100, ...values)));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (i: number) => MARGIN.left + (usable.length < 2 ? plotW / 2 : (i * plotW) / (usable.length - 1));
  const y = (ms: number) => MARGIN.top + plotH - (Math.log10(Math.max(1, ms)) / Math.log10(top)) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    '<title>hookrelay: submit-to-webhook latency percentiles over offered load</title>',
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="18" font-size="14">Submit-to-webhook latency over offered load (echo jobs, one endpoint)</text>`,
  ];
  for (let ms = 1; ms <= top; ms *= 10) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(ms)}" y2="${y(ms)}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 8}" y="${y(ms) + 4}" text-anchor="end">${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}</text>`,
    );
  }
  usable.forEach((p, i) => {
    parts.push(
      `<text x="${x(i)}" y="${MARGIN.top + plotH + 20}" text-anchor="middle">${p.throughput}</text>`,
    );
  });
  parts.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">offered load (jobs/s)</text>`,
  );
  SERIES.forEach((s, n) => {
    const path = usable.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(i)},${y(p[s.key] ?? 1)}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const [i, p] of usable.entries())
      parts.push(`<circle cx="${x(i)}" cy="${y(p[s.key] ?? 1)}" r="3" fill="${s.color}"/>`);
    const ly = MARGIN.top + 20 + n * 20;
    parts.push(
      `<line x1="${WIDTH - MARGIN.right + 16}" x2="${WIDTH - MARGIN.right + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`,
      `<text x="${WIDTH - MARGIN.right + 46}" y="${ly + 4}">${s.key}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
