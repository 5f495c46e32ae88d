/**
 * Style-transfer speed: seconds per L-BFGS iteration (one forward + backward through the backbone to its
 * deepest default layer, plus the losses) and peak resident memory, per backend, backbone and size.
 * Each cell runs in its own process so peak memory is its own.
 *
 *   npx tsx --conditions=@convlab/source tools/bench/style.ts [--backends native,wasm] [--backbones inception_v3,mobilenet_v2]
 *       [--sizes 256,512] [--iterations 5] [--out out/bench/style.json]
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readStyleRun, stylize, type Backbone, type StylizeOptions } from '@convlab/style';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'native,wasm' },
    backbones: { type: 'string', default: 'inception_v3,mobilenet_v2,random_multiscale' },
    sizes: { type: 'string', default: '256,512' },
    iterations: { type: 'string', default: '5' },
    out: { type: 'string', default: 'out/bench/style.json' },
    one: { type: 'string' },
  },
});

interface Cell {
  backend: string;
  backbone: string;
  size: number;
  secondsPerIteration?: number;
  firstIterationSeconds?: number;
  peakRssMB?: number;
  error?: string;
}

if (values.one) {
  // Child: one cell, printed as JSON on the last line.
  const [backend, backbone, size] = values.one.split(':');
  const times: number[] = [];
  let last = performance.now();
  const r = await stylize(
    { content: 'assets/content/tubingen.jpg', style: ['assets/style/starry_night.jpg'], backbone: backbone as Backbone, size: Number(size), iterations: Number(values.iterations), multiscale: false, backend: backend as StylizeOptions['backend'] },
    () => {
      const now = performance.now();
      times.push((now - last) / 1000);
      last = now;
    },
  );
  const steady = times.slice(1);
  const cell: Cell = {
    backend: readStyleRun(r.record).backend.name,
    backbone,
    size: Number(size),
    firstIterationSeconds: times[0],
    secondsPerIteration: steady.reduce((a, b) => a + b, 0) / Math.max(1, steady.length),
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  };
  console.log(JSON.stringify(cell));
} else {
  const cells: Cell[] = [];
  const self = fileURLToPath(import.meta.url);
  for (const backend of values.backends!.split(','))
    for (const backbone of values.backbones!.split(','))
      for (const size of values.sizes!.split(',')) {
        let cell: Cell;
        try {
          const out = execFileSync(process.execPath, [...process.execArgv, self, '--one', `${backend}:${backbone}:${size}`, '--iterations', values.iterations!], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          cell = JSON.parse(out.trim().split('\n').at(-1)!);
        } catch (err) {
          cell = { backend, backbone, size: Number(size), error: String((err as { stderr?: string }).stderr ?? err).trim().split('\n').at(-1) };
        }
        cells.push(cell);
        console.log(
          cell.error
            ? `${backend.padEnd(7)} ${backbone.padEnd(18)} ${size}px  error: ${cell.error}`
            : `${cell.backend.padEnd(7)} ${backbone.padEnd(18)} ${size}px  ${cell.secondsPerIteration!.toFixed(2)} s/iter (first ${cell.firstIterationSeconds!.toFixed(2)} s)  peak RSS ${cell.peakRssMB!.toFixed(0)} MB`,
        );
      }
  await mkdir(dirname(values.out!), { recursive: true });
  await writeFile(values.out!, JSON.stringify({ date: new Date().toISOString(), iterations: Number(values.iterations), cells }, null, 2) + '\n');
}
