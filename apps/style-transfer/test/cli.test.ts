/** convlab-style end to end: files written on success; one clear line, exit != 0 and no output on bad input. */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/convlab-style.js', import.meta.url));
const CONTENT = fileURLToPath(new URL('../../../assets/content/tubingen.jpg', import.meta.url));
const STYLE = fileURLToPath(new URL('../../../assets/style/starry_night.jpg', import.meta.url));
const STYLE2 = fileURLToPath(new URL('../../../assets/style/great_wave.jpg', import.meta.url));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, CONVLAB_BACKEND: process.env.CONVLAB_BACKEND ?? 'wasm' }, timeout: 240_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const small = ['--backbone', 'mobilenet_v2', '--size', '64', '--iterations', '4', '--quiet'];

test('writes the image, checkpoints, the run record and the loss plot', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'convlab-style-'));
  const out = join(dir, 'result.png');
  const r = await cli(['--content', CONTENT, '--style', STYLE, '--output', out, '--html', join(dir, 'report.html'), '--save-every', '2', '--seed', '5', ...small]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /convlab: backend/);
  for (const f of ['result.png', 'result.json', 'result-loss.png', 'result-iter0002.png', 'result-iter0004.png', 'report.html']) t.true(existsSync(join(dir, f)), f);
  const record = JSON.parse(await readFile(join(dir, 'result.json'), 'utf8'));
  t.is(record.tool, 'convlab-style');
  t.is(record.seed, 5);
  t.is(record.model.name, 'mobilenet_v2');
  t.is(record.extra.iterationsDone, 4);
  t.is(record.steps.length, 4);
  t.true(record.steps.every((s: { total: number }) => Number.isFinite(s.total)));
  t.truthy(record.backend.name);
  t.deepEqual(record.parameters.style, [STYLE]);
  t.is(record.parameters.size, 64);
});

const bad: [string, (dir: string) => Promise<string[]>, RegExp][] = [
  ['a corrupt content image', async (dir) => {
    const p = join(dir, 'broken.jpg');
    await writeFile(p, Buffer.from('this is not a jpeg at all'));
    return ['--content', p, '--style', STYLE];
  }, /content image: cannot read image .*broken\.jpg/],
  ['an unknown layer', async () => ['--content', CONTENT, '--style', STYLE, '--style-layers', 'conv9_9'], /conv9_9.*block_1_expand_relu/s],
  ['blend weights that sum to 0', async () => ['--content', CONTENT, '--style', `${STYLE},${STYLE2}`, '--style-blend', '0,0'], /style-?[bB]lend.*sum to 0/],
  ['a size beyond the memory estimate', async () => ['--content', CONTENT, '--style', STYLE, '--size', '6000', '--max-memory-gb', '1'], /needs about [\d.]+ GB.*--size \d+/],
  ['an unknown flag', async () => ['--content', CONTENT, '--style', STYLE, '--colour', 'x'], /[Uu]nknown option '--colour'/],
];

for (const [name, args, message] of bad) {
  test(`${name}: one error line, exit != 0, no output`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'convlab-style-bad-'));
    const out = join(dir, 'out.png');
    const r = await cli([...small, ...(await args(dir)), '--output', out]);
    t.not(r.code, 0);
    t.regex(r.stderr, message);
    t.notRegex(r.stderr, /\n\s+at /); // no stack trace
    t.false(existsSync(out));
    t.deepEqual((await readdir(dir)).filter((f) => f.startsWith('out')), []);
  });
}
