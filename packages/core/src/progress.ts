/**
 * Progress for long loops. On a terminal: a cli-progress bar with rate, ETA and custom fields
 * (loss, s/iter). Elsewhere (CI logs, `nohup ... > log`): one short line at most every 10% or 30 s,
 * so logs show progress without a flood. CONVLAB_PROGRESS=0 silences both.
 */
import cliProgress from 'cli-progress';

export type ProgressFields = Record<string, number | string>;

export interface ProgressOptions {
  total: number;
  label: string;
  /** What one step is (default 'it'). */
  unit?: string;
  /** Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Force the mode instead of asking the stream (tests, or a tool that wants lines on a TTY). */
  mode?: 'bar' | 'lines' | 'silent';
  /** Line mode: print when another `lineEvery` fraction is done (default 0.1) ... */
  lineEvery?: number;
  /** ... or when this many seconds passed since the last line (default 30). */
  lineSeconds?: number;
  /** Clock in ms (default performance.now); injectable for tests. */
  now?: () => number;
  /** Where a resumed run starts (default 0): the rate and ETA count only the steps done since. */
  initial?: number;
}

export interface Progress {
  /** Set the absolute position (steps done) and, optionally, fields to show. */
  update(value: number, fields?: ProgressFields): void;
  increment(n?: number, fields?: ProgressFields): void;
  /** Finish: the bar stays on screen; line mode prints a final summary line. Idempotent. */
  stop(): void;
}

/** Whether CONVLAB_PROGRESS turns progress off (0, false, off, no). */
export function progressDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CONVLAB_PROGRESS?.trim().toLowerCase();
  return v === '0' || v === 'false' || v === 'off' || v === 'no';
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

function formatValue(v: number | string): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(3) : Number.parseFloat(v.toPrecision(4)).toString();
}

/** Step counts: integers as they are, fractional ones (MB downloaded) to one decimal. */
function formatCount(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

export function formatFields(fields: ProgressFields): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(' ');
}

/** "1.3 s/it" below one step per second, "12.5 it/s" above. */
export function formatRate(stepsPerSecond: number, unit: string): string {
  if (!(stepsPerSecond > 0) || !Number.isFinite(stepsPerSecond)) return `? ${unit}/s`;
  return stepsPerSecond < 1 ? `${(1 / stepsPerSecond).toPrecision(3)} s/${unit}` : `${stepsPerSecond.toPrecision(3)} ${unit}/s`;
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const unit = options.unit ?? 'it';
  const total = Math.max(0, options.total);
  const now = options.now ?? (() => performance.now());
  const mode = options.mode ?? (progressDisabled() ? 'silent' : stream.isTTY ? 'bar' : 'lines');
  const start = now();
  const initial = Math.max(0, options.initial ?? 0);
  let value = initial;
  let fields: ProgressFields = {};
  let stopped = false;

  const rate = (): number => {
    const elapsed = (now() - start) / 1000;
    return elapsed > 0 ? (value - initial) / elapsed : 0;
  };
  const eta = (): number => {
    const r = rate();
    return r > 0 ? (total - value) / r : Infinity;
  };
  const statusLine = (): string => {
    const pct = total > 0 ? Math.floor((100 * value) / total) : 100;
    const parts = [`${options.label}: ${pct}% (${formatCount(value)}/${formatCount(total)} ${unit})`, formatRate(rate(), unit)];
    if (value < total) parts.push(`ETA ${formatDuration(eta())}`);
    else parts.push(`took ${formatDuration((now() - start) / 1000)}`);
    const f = formatFields(fields);
    if (f) parts.push(f);
    return parts.join(', ');
  };

  if (mode === 'silent') {
    return {
      update: (v) => void (value = v),
      increment: (n = 1) => void (value += n),
      stop: () => undefined,
    };
  }

  if (mode === 'lines') {
    const every = options.lineEvery ?? 0.1;
    const seconds = options.lineSeconds ?? 30;
    let lastAt = start;
    let lastBucket = 0;
    let printed = 0;
    const maybePrint = (): void => {
      const fraction = total > 0 ? value / total : 1;
      if (fraction >= 1) return; // the final line comes from stop()
      const bucket = Math.floor(fraction / every + 1e-9);
      const t = now();
      if (bucket > lastBucket || (t - lastAt) / 1000 >= seconds) {
        stream.write(statusLine() + '\n');
        lastAt = t;
        lastBucket = Math.max(lastBucket, bucket);
        printed++;
      }
    };
    return {
      update(v, f) {
        if (stopped) return;
        value = v;
        if (f) fields = { ...fields, ...f };
        maybePrint();
      },
      increment(n = 1, f) {
        this.update(value + n, f);
      },
      stop() {
        if (stopped) return;
        stopped = true;
        // One closing line when there was progress to speak of (a loop that ran at all).
        if (value > initial || printed > 0) stream.write(statusLine() + '\n');
      },
    };
  }

  const bar = new cliProgress.SingleBar(
    {
      stream,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      barsize: 28,
      fps: 8,
      format: (opts, params) => {
        const size = opts.barsize ?? 28;
        const filled = Math.round(params.progress * size);
        const barText = (opts.barCompleteString ?? '').slice(0, filled) + (opts.barIncompleteString ?? '').slice(0, size - filled);
        const pct = Math.floor(params.progress * 100);
        const head = `${options.label} ${barText} ${String(pct).padStart(3)}% ${formatCount(params.value)}/${formatCount(params.total)} ${unit}`;
        const tail = params.value >= params.total ? `took ${formatDuration((now() - start) / 1000)}` : `ETA ${formatDuration(eta())}`;
        const f = formatFields(fields);
        return [head, formatRate(rate(), unit), tail, f].filter(Boolean).join(' | ');
      },
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, initial);
  // If the process ends mid-run (Ctrl-C, an error), leave the terminal with its cursor back.
  const restore = (): void => {
    if (!stopped) bar.stop();
  };
  process.once('exit', restore);
  return {
    update(v, f) {
      if (stopped) return;
      value = v;
      if (f) fields = { ...fields, ...f };
      bar.update(v);
    },
    increment(n = 1, f) {
      this.update(value + n, f);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', restore);
      bar.update(value);
      bar.stop();
    },
  };
}
