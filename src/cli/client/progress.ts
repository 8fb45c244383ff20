// A progress bar with rate and ETA on stderr: drawn in place on a terminal, a line every half second when
// stderr is a file or a pipe (so a log or a test still sees it move).
import cliProgress from 'cli-progress';

export interface Progress {
  advance(by: number): void;
  /** Raises the total when more turned up than counted at the start. */
  atLeast(total: number): void;
  stop(): void;
}

export function progressBar(label: string, total: number): Progress {
  const started = Date.now();
  let value = 0;
  let grand = total;
  const rate = () => Math.round(value / Math.max((Date.now() - started) / 1000, 0.001));
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} {bar} {value}/{total} | {rate}/s | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 500,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { rate: 0 });
  return {
    advance(by) {
      value += by;
      bar.update(value, { rate: rate() });
    },
    atLeast(total) {
      if (total > grand) {
        grand = total;
        bar.setTotal(total);
      }
    },
    stop() {
      bar.update(value, { rate: rate() });
      bar.stop();
    },
  };
}
