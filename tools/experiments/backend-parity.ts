/**
 * Backend parity on real workloads, before and after @convlab/native's parity kernels (TF-semantics
 * MaxPoolGrad / AvgPoolGrad on cpu and wasm, float64-accumulating Sum / Mean on wasm, and the
 * broadcast gradient fixes):
 * - deconvnet projections of the strongest unit of an InceptionV3 layer (default mixed4) on a few
 *   photos of assets/content (299 px), and
 * - the gradient of the default style-transfer objective (InceptionV3, Gram loss, avg pooling, content
 *   tubingen + style starry_night, content init) at --style-size px.
 * For each, wasm and cpu against native (the oneDNN kernels, exact): Pearson correlation over all
 * pixel values, and the relative L2 error ||g - g_native|| / ||g_native|| in the outer 2-pixel border
 * and in the interior.
 *
 *   npx tsx --conditions=@convlab/source tools/experiments/backend-parity.ts [--mode before|after|both]
 *     [--layer mixed4] [--images dog.jpg,eagle.jpg,giraffe.jpg] [--size 299] [--style-size 512]
 *     [--skip-style] [--skip-deconv] [--backends wasm,cpu]
 *
 * --mode (or CONVLAB_PARITY=before|after|both): 'before' takes the parity kernels out (tfjs's own
 * cpu and wasm pool gradients, wasm's own Sum / Mean, tfjs's own broadcast gradients); 'after' leaves
 * them in. native is the
 * reference in both (its pool kernels are oneDNN's in either mode). Without the addon, wasm is compared
 * with cpu instead.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { imageToTensor, initEngine, loadImage, resizeImage, tf, type RgbImage } from '@convlab/core';
import { loadModel, type ConvNet } from '@convlab/models';
import * as native from '@convlab/native';
import { createMethod, fitImage } from '@convlab/visualize';
import { disposeTargets, gatysObjective, gatysTargets, loadFeatureNet, parseStylizeOptions, type FeatureNet, type ResolvedStylizeOptions } from '@convlab/style';

type Backend = 'native' | 'wasm' | 'cpu';
type Mode = 'before' | 'after';

const ROOT = join(import.meta.dirname, '../..');
const { values: args } = parseArgs({
  options: {
    mode: { type: 'string', default: process.env.CONVLAB_PARITY ?? 'both' },
    layer: { type: 'string', default: 'mixed4' },
    images: { type: 'string', default: 'dog.jpg,eagle.jpg,giraffe.jpg' },
    size: { type: 'string', default: '299' },
    'style-size': { type: 'string', default: '512' },
    'skip-style': { type: 'boolean', default: false },
    'skip-deconv': { type: 'boolean', default: false },
    backends: { type: 'string', default: 'wasm,cpu' },
  },
});
const modes: Mode[] = args.mode === 'both' ? ['before', 'after'] : [args.mode as Mode];
if (!modes.every((m) => m === 'before' || m === 'after')) throw new Error(`--mode must be before, after or both, got ${args.mode}`);

const haveNative = native.nativeStatus().available;
const reference: Backend = haveNative ? 'native' : 'cpu';
const compared = (args.backends as string).split(',').filter((b) => b !== reference) as Backend[];

/** Bring a backend up through the engine (which installs the parity kernels), then apply the mode. */
async function use(backend: Backend, mode: Mode): Promise<void> {
  await initEngine({ backend, log: false });
  if (mode === 'before') {
    native.uninstallCpuParityKernels();
    native.uninstallWasmKernels(['MaxPoolGrad', 'AvgPoolGrad', 'Sum', 'Mean']);
    native.uninstallGradientFixes();
  } else {
    native.installCpuParityKernels();
    if (backend === 'wasm') await native.installWasmKernels();
    native.installGradientFixes();
  }
}

function pearson(a: Float32Array, b: Float32Array): number {
  let ma = 0, mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= a.length;
  mb /= b.length;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const da = a[i] - ma, db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Relative L2 error of got against ref ([h, w, 3]) in the outer `border` pixels and in the rest. */
function regionErrors(got: Float32Array, ref: Float32Array, h: number, w: number, border = 2): { border: number; interior: number } {
  const acc = { border: [0, 0], interior: [0, 0] };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const region = y < border || x < border || y >= h - border || x >= w - border ? acc.border : acc.interior;
      for (let c = 0; c < 3; c++) {
        const i = (y * w + x) * 3 + c;
        region[0] += (got[i] - ref[i]) ** 2;
        region[1] += ref[i] ** 2;
      }
    }
  }
  return { border: Math.sqrt(acc.border[0] / acc.border[1]), interior: Math.sqrt(acc.interior[0] / acc.interior[1]) };
}

interface Workload {
  name: string;
  height: number;
  width: number;
  /** The map on the active backend. */
  run(): Promise<Float32Array>;
}

// ---------- deconvnet ----------

async function deconvWorkloads(net: ConvNet, size: number): Promise<Workload[]> {
  const out: Workload[] = [];
  await use(reference, 'after');
  for (const file of (args.images as string).split(',')) {
    const image: RgbImage = await fitImage(await loadImage(join(ROOT, 'assets/content', file)), size, size);
    // The unit and position are fixed on the reference backend, so every backend projects the same one.
    const first = await createMethod('deconvnet', net).attribute(image, { layer: args.layer as string, unit: 'strongest' });
    const target = { layer: first.target.layer, unit: first.target.index, position: first.target.position };
    out.push({
      name: `deconvnet ${net.name} ${target.layer}:${target.unit}@${target.position} ${file}`,
      height: size,
      width: size,
      run: async () => (await createMethod('deconvnet', net).attribute(image, target)).pixels!,
    });
  }
  return out;
}

// ---------- style transfer ----------

/** The default objective of @convlab/style (gatysTargets + gatysObjective, Gram loss) as a gradient w.r.t. the image. */
async function styleWorkload(net: FeatureNet, o: ResolvedStylizeOptions): Promise<Workload> {
  const content = await loadImage(o.content as string);
  const style = await loadImage(o.style[0] as string);
  const aspect = content.width / content.height;
  const [h, w] = aspect >= 1 ? [Math.round(o.size / aspect), o.size] : [o.size, Math.round(o.size * aspect)];
  const contentImg = await resizeImage(content, { width: w, height: h });
  const styleImg = await resizeImage(style, { maxSide: Math.max(net.minInputSize, Math.round(o.size * o.styleScale)) });
  const contentLayers = o.contentLayers.map((l) => net.resolveLayer(l));
  const styleLayers = o.styleLayers.map((l) => net.resolveLayer(l));
  const toX = (img: RgbImage) => tf.tidy(() => net.preprocess(tf.expandDims(imageToTensor(img), 0)));
  return {
    name: `style gradient ${net.name} ${w}x${h} (${o.styleLayers.length} Gram layers, pool ${o.pool})`,
    height: h,
    width: w,
    run: async () => {
      // Targets on the active backend too: the whole objective is what a run on that backend computes.
      const x = toX(contentImg);
      const sx = toX(styleImg);
      const targets = gatysTargets(net, o, { content: x, styles: [sx] }, { content: contentLayers, style: styleLayers });
      const { grad } = gatysObjective(net, o, targets)(x);
      disposeTargets(targets);
      const values = (await grad.data()) as Float32Array;
      tf.dispose([x, sx, grad]);
      return values;
    },
  };
}

// ---------- main ----------

async function main() {
  console.log(`backend parity: reference ${reference}${haveNative ? '' : ` (native unavailable: ${native.nativeStatus().reason})`}, compared ${compared.join(', ')}, modes ${modes.join(', ')}`);
  await use(reference, 'after');
  const workloads: Workload[] = [];
  const disposers: (() => void)[] = [];
  if (!args['skip-deconv']) {
    const net = await loadModel('inception_v3', { includeHead: false });
    disposers.push(() => net.dispose());
    workloads.push(...(await deconvWorkloads(net, Number(args.size))));
  }
  if (!args['skip-style']) {
    const o = parseStylizeOptions({
      content: join(ROOT, 'assets/content/tubingen.jpg'), style: [join(ROOT, 'assets/style/starry_night.jpg')], size: Number(args['style-size']),
    });
    const net = await loadFeatureNet(o.backbone, o.weights, o.seed);
    disposers.push(() => net.dispose());
    workloads.push(await styleWorkload(net, o));
  }

  const refMaps: Float32Array[] = [];
  await use(reference, 'after');
  for (const wl of workloads) {
    const t0 = performance.now();
    refMaps.push(await wl.run());
    console.log(`  ${reference} ${wl.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const rows: string[] = [];
  for (const mode of modes) {
    for (const b of compared) {
      await use(b, mode);
      for (let i = 0; i < workloads.length; i++) {
        const wl = workloads[i];
        const t0 = performance.now();
        const map = await wl.run();
        const secs = (performance.now() - t0) / 1000;
        const r = pearson(map, refMaps[i]);
        const e = regionErrors(map, refMaps[i], wl.height, wl.width);
        rows.push(`${mode.padEnd(6)} ${`${b}-vs-${reference}`.padEnd(15)} r=${r.toFixed(6)}  border relL2=${e.border.toExponential(2)}  interior relL2=${e.interior.toExponential(2)}  ${wl.name} (${secs.toFixed(1)} s)`);
        console.log(rows[rows.length - 1]);
      }
    }
  }
  await use(reference, 'after');
  console.log('\nsummary');
  for (const row of rows) console.log(row);
  for (const d of disposers) d();
}

await main();
