/**
 * The bad-input table's runner: each row is a CLI invocation with inputs that must be refused (or a
 * batch with a bad item that must be skipped), the exit code it must end with, words its error must
 * contain, and the promise that no output file is left behind and no input is changed.
 *
 * Placeholders in args: {tmp} a fresh folder per row; {out} = {tmp}/out (a folder or file the row's
 * command must not create, unless `leaves` says otherwise); {photo} and {style} copies of bundled
 * sample images inside {tmp} (hashed before and after: inputs are never written over); {bad} a
 * truncated JPEG; {images} a folder with two good images and one truncated one.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export const CLIS = {
  deconv: 'apps/deconvnet/bin/convlab-deconv.js',
  style: 'apps/style-transfer/bin/convlab-style.js',
  caption: 'apps/captioning/bin/convlab-caption.js',
  models: 'packages/models/bin/convlab-models.js',
} as const;

export interface BadInputRow {
  cli: keyof typeof CLIS;
  /** What is wrong, in words (the test's title). */
  what: string;
  args: string[];
  /** Expected exit code (1: refused; 3: batch finished with skipped items). */
  exit: number;
  /** Words (regular expressions) the stderr must contain, e.g. the flag's name. */
  words: (string | RegExp)[];
  /** 'nothing' (default): {out} must not hold any file afterwards; 'results': the batch wrote its good items. */
  leaves?: 'nothing' | 'results';
  /** Seconds before the row counts as a hang (default 120). */
  timeout?: number;
  /** Extra environment. */
  env?: Record<string, string>;
}

export interface RowResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  tmp: string;
  out: string;
  files: string[];
  changedInputs: string[];
  leftovers: string[];
}

const hash = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [dir];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

/** A small truncated JPEG: a valid header, then nothing. */
export function truncatedJpeg(): Buffer {
  const full = readFileSync(join(ROOT, 'assets/content/tubingen.jpg'));
  return full.subarray(0, Math.min(600, full.length));
}

export function fixtures(tmp: string): Record<string, string> {
  const photo = join(tmp, 'photo.jpg');
  const style = join(tmp, 'style.jpg');
  copyFileSync(join(ROOT, 'assets/content/tubingen.jpg'), photo);
  const styles = readdirSync(join(ROOT, 'assets/style')).filter((f) => f.endsWith('.jpg')).sort();
  copyFileSync(join(ROOT, 'assets/style', styles[0]), style);
  const bad = join(tmp, 'bad.jpg');
  writeFileSync(bad, truncatedJpeg());
  const images = join(tmp, 'images');
  mkdirSync(images);
  const contents = readdirSync(join(ROOT, 'assets/content')).filter((f) => f.endsWith('.jpg')).sort();
  copyFileSync(join(ROOT, 'assets/content', contents[0]), join(images, 'a.jpg'));
  copyFileSync(join(ROOT, 'assets/content', contents[1]), join(images, 'b.jpg'));
  writeFileSync(join(images, 'broken.jpg'), truncatedJpeg());
  return { '{tmp}': tmp, '{out}': join(tmp, 'out'), '{photo}': photo, '{style}': style, '{bad}': bad, '{images}': images };
}

export function substitute(args: string[], vars: Record<string, string>): string[] {
  return args.map((a) => Object.entries(vars).reduce((s, [k, v]) => s.split(k).join(v), a));
}

/** Run a CLI as a user would (its bin, a child process) with a hard timeout. */
export function runCli(cli: keyof typeof CLIS, args: string[], opts: { timeout?: number; env?: Record<string, string>; cwd?: string } = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(ROOT, CLIS[cli]), ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, CONVLAB_BACKEND: process.env.CONVLAB_BACKEND ?? 'wasm', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, (opts.timeout ?? 120) * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr, timedOut });
    });
  });
}

export async function runRow(row: BadInputRow): Promise<RowResult> {
  const tmp = mkdtempSync(join(tmpdir(), `convlab-bad-${row.cli}-`));
  const vars = fixtures(tmp);
  const inputs = [vars['{photo}'], vars['{style}'], ...walk(vars['{images}'])];
  const before = new Map(inputs.map((p) => [p, hash(p)]));
  const res = await runCli(row.cli, substitute(row.args, vars), { timeout: row.timeout, env: row.env });
  const changedInputs = inputs.filter((p) => !existsSync(p) || hash(p) !== before.get(p));
  const files = walk(vars['{out}']);
  // Our temporary names, and write-file-atomic's (<name>.<hex hash>).
  const leftovers = walk(tmp).filter((p) => /\.tmp$|\.convlab-write-probe|\.(png|jpe?g|webp|json|html)\.[0-9a-f]{5,8}$/.test(p));
  return { ...res, tmp, out: vars['{out}'], files, changedInputs, leftovers };
}
