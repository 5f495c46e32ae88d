/**
 * One Gatys et al. style-transfer iteration: VGG19 conv layers up to conv5_1 (random He-initialized
 * weights built from plain tf ops: conv2d, bias add, relu, 2x2 pooling), content loss at conv4_2,
 * Gram-matrix style losses at conv1_1..conv5_1, gradient with respect to the image.
 *
 *   npx tsx --conditions=@convlab/source tools/bench/gatys.ts --backend native|wasm|cpu --size 512 [--iters 3]
 *     [--pool max|avg] [--layers frozen|plain]
 *
 * --layers frozen (default): each conv + bias + relu is @convlab/native's frozenConv2d (one fused
 * kernel forward, input gradient only). plain: tf.conv2d, tf.add, tf.relu, differentiated by tfjs.
 *
 * FLOPs per iteration are counted analytically: each convolution forward and its input gradient
 * (2 x output pixels x kernel area x in x out channels each), and each Gram matrix forward plus its
 * two gradient products (3 x 2 x pixels x channels^2). Element-wise work is not counted.
 */
import { parseArgs } from 'node:util';
import { frozenConv2d } from '@convlab/native';
import { benchFlags, peakRssMB, report, startEngine, tf, timeIterations } from './index-util.js';

type T4 = ReturnType<typeof tf.tensor4d>;

/** VGG19's convolutions up to conv5_1 ('M' = 2x2 pooling). */
const VGG19: (number | 'M')[] = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512];
const STYLE = ['conv1_1', 'conv2_1', 'conv3_1', 'conv4_1', 'conv5_1'];
const CONTENT = 'conv4_2';

interface Conv { name: string; w: ReturnType<typeof tf.tensor>; b: ReturnType<typeof tf.tensor>; cin: number; cout: number; size: number }

export function buildVgg19(size: number): { convs: Conv[]; ops: ('M' | Conv)[] } {
  const convs: Conv[] = [];
  const ops: ('M' | Conv)[] = [];
  let cin = 3, block = 1, index = 1, s = size, seed = 7;
  for (const item of VGG19) {
    if (item === 'M') {
      ops.push('M');
      block++;
      index = 1;
      s = Math.floor(s / 2);
      continue;
    }
    const std = Math.sqrt(2 / (9 * cin));
    const conv: Conv = {
      name: `conv${block}_${index++}`, cin, cout: item, size: s,
      w: tf.randomNormal([3, 3, cin, item], 0, std, 'float32', seed++), b: tf.zeros([item]),
    };
    convs.push(conv);
    ops.push(conv);
    cin = item;
  }
  return { convs, ops };
}

/** Forward FLOPs of the convolutions and Gram matrices, times 2 for the input gradients (Gram: 3). */
export function gatysFlops(convs: Conv[]): number {
  let f = 0;
  for (const c of convs) f += 2 * 2 * c.size * c.size * 9 * c.cin * c.cout;
  for (const c of convs) if (STYLE.includes(c.name)) f += 3 * 2 * c.size * c.size * c.cout * c.cout;
  return f;
}

type Layers = 'frozen' | 'plain';

function features(x: T4, ops: ('M' | Conv)[], pool: 'max' | 'avg', layers: Layers = 'frozen'): Record<string, T4> {
  const out: Record<string, T4> = {};
  let h = x;
  for (const op of ops) {
    if (op === 'M') {
      h = pool === 'max' ? tf.maxPool(h, 2, 2, 'valid') : tf.avgPool(h, 2, 2, 'valid');
      continue;
    }
    h = layers === 'frozen'
      ? frozenConv2d(h, op.w as T4, op.b as ReturnType<typeof tf.tensor1d>, { activation: 'relu' })
      : (tf.relu(tf.add(tf.conv2d(h, op.w as T4, 1, 'same'), op.b)) as T4);
    out[op.name] = h;
  }
  return out;
}

/**
 * Gram matrix F^T F / n of the features F [n, c], with a custom gradient dF = F (dG + dG^T) / n: one
 * product instead of tfjs's two plus their sum (3 fewer activation-sized tensors per style layer).
 */
const gramOp = tf.customGrad(((f: ReturnType<typeof tf.tensor2d>, save: (t: ReturnType<typeof tf.tensor>[]) => void) => {
  save([f]);
  const n = f.shape[0];
  return {
    value: tf.div(tf.matMul(f, f, true, false), n),
    gradFunc: (dy: ReturnType<typeof tf.tensor2d>, saved: ReturnType<typeof tf.tensor2d>[]) =>
      tf.tidy(() => tf.matMul(saved[0], tf.div(tf.add(dy, tf.transpose(dy)), n))),
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

function gram(f: T4): ReturnType<typeof tf.tensor> {
  return gramOp(tf.reshape(f, [-1, f.shape[3]])) as ReturnType<typeof tf.tensor>;
}

async function main() {
  const flags = benchFlags({ size: 256, iters: 3, warmup: 1 });
  const { values } = parseArgs({ options: { pool: { type: 'string', default: 'max' }, layers: { type: 'string', default: 'frozen' } }, strict: false });
  const pool = values.pool === 'avg' ? 'avg' : 'max';
  const layers: Layers = values.layers === 'plain' ? 'plain' : 'frozen';
  const engine = await startEngine(flags.backend);
  const { convs, ops } = buildVgg19(flags.size);
  const s = flags.size;
  const content = tf.randomUniform([1, s, s, 3], -120, 120, 'float32', 11) as T4;
  const style = tf.randomUniform([1, s, s, 3], -120, 120, 'float32', 12) as T4;
  const contentTarget = tf.tidy(() => features(content, ops, pool)[CONTENT]);
  const styleTargets = tf.tidy(() => {
    const f = features(style, ops, pool);
    return STYLE.map((n) => gram(f[n]));
  });
  const image = tf.variable(tf.randomUniform([1, s, s, 3], -120, 120, 'float32', 13));
  const loss = (img: T4) => {
    const f = features(img, ops, pool, layers);
    let l = tf.mul(tf.sum(tf.squaredDifference(f[CONTENT], contentTarget)), 0.5);
    STYLE.forEach((n, i) => {
      l = tf.add(l, tf.mul(tf.sum(tf.squaredDifference(gram(f[n]), styleTargets[i])), 1e3 / STYLE.length));
    });
    return l as ReturnType<typeof tf.scalar>;
  };
  const grad = tf.grad((img: ReturnType<typeof tf.tensor>) => loss(img as T4));
  const step = async () => {
    const g = tf.tidy(() => {
      const d = grad(image);
      image.assign(tf.sub(image, tf.mul(d, 1e-6)));
      return tf.sum(d);
    });
    await g.data();
    g.dispose();
  };
  const sec = await timeIterations(step, flags.iters, flags.warmup);
  report({
    bench: 'gatys', backend: engine.backend, config: `${s} px`, secondsPerIter: sec, gflopPerIter: gatysFlops(convs) / 1e9,
    peakRssMB: peakRssMB(), iterations: flags.iters, engineDetail: engine.detail, note: `${layers} layers, ${pool} pooling`,
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
