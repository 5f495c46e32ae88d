/**
 * Signals landing inside a native kernel. oneDNN 2.6.3's sgemm corrupts the malloc heap when a signal is
 * delivered to a thread inside it (csrc/addon.cc), so the addon blocks asynchronous signals while a kernel
 * runs. Before that, this child (sgemm in a loop under `node --cpu-prof`, SIGPROF every millisecond) aborted
 * with "corrupted size vs. prev_size" on most runs, and every Gatys run on the native backend did.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeTest } from './helpers.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

const child = `
const { loadAddon } = await import('@convlab/native');
const a = loadAddon();
const shapes = [[64, 64, 5000], [192, 192, 800], [288, 288, 3000], [32, 32, 20000]];
let calls = 0, first = NaN;
const t0 = performance.now();
while (performance.now() - t0 < 2500) {
  for (const [m, n, k] of shapes) {
    const A = new Float32Array(k * m).fill(0.5), C = new Float32Array(m * n);
    a.matMul(Int32Array.from([1, 1, m, n, k, 1, 0]), A, A, C, null, 0, 0);
    if (C[0] !== 0.25 * k || C[m * n - 1] !== 0.25 * k) throw new Error('wrong product');
    calls++;
  }
}
console.log('calls ' + calls); // one string: under FORCE_COLOR (nx sets it) a number argument is printed in colour
`;

nativeTest('sgemm under the CPU profiler (a signal every millisecond) keeps the heap intact', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'convlab-prof-'));
  try {
    const r = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import=tsx', '--conditions=@convlab/source', '--input-type=module', '-e', child], {
      cwd: pkgDir, encoding: 'utf8', timeout: 120_000,
    });
    const out = `${r.stdout}${r.stderr}`;
    t.is(r.signal, null, out);
    t.is(r.status, 0, out);
    t.regex(out, /calls \d+/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
