/**
 * Gradients through tf.grad with native kernels match the original cpu kernels, and a small
 * style-transfer loop holds memory flat (tensor count and process RSS) over 200 iterations.
 */
import { installNativeKernels, nativeKernelStats, resetKernelStats, uninstallNativeKernels } from '../src/index.js';
import { TOLERANCE, nativeTest, rand, relErr, tf } from './helpers.js';

/** A small network using every replaced kernel on the way: conv, bias add, relu, pools, depthwise, fused ops, Gram matmuls. */
function makeNet() {
  const w1 = rand([3, 3, 3, 8]), b1 = rand([8]), w2 = rand([3, 3, 8, 1]), w3 = rand([1, 1, 8, 12]), b3 = rand([12]);
  const w4 = rand([3, 3, 12, 6]), b4 = rand([6]), dense = rand([6, 5]), dbias = rand([5]);
  const params = [w1, b1, w2, w3, b3, w4, b4, dense, dbias];
  const forward = (x: tf.Tensor4D, ws: tf.Tensor[] = params) => {
    const [cw1, cb1, cw2, cw3, cb3, cw4, cb4, cd, cdb] = ws;
    let h = tf.relu(tf.add(tf.conv2d(x, cw1 as tf.Tensor4D, 1, 'same'), cb1)) as tf.Tensor4D;
    const gram1 = tf.matMul(tf.reshape(h, [-1, 8]), tf.reshape(h, [-1, 8]), true, false);
    h = tf.maxPool(h, 2, 2, 'same');
    h = tf.relu6(tf.depthwiseConv2d(h, cw2 as tf.Tensor4D, 2, 'valid'));
    // Linear activation: under tf.grad tfjs fuses only linear ops (and then computes the filter
    // gradient eagerly, as tfjs-layers' Conv2D does).
    h = tf.relu(tf.fused.conv2d({ x: h, filter: cw3 as tf.Tensor4D, bias: cb3, activation: 'linear', strides: 1, pad: 'same' }));
    h = tf.avgPool(h, 3, 1, 'valid');
    h = tf.sigmoid(tf.sub(tf.conv2d(h, cw4 as tf.Tensor4D, 1, 'same'), cb4)) as tf.Tensor4D;
    const pooled = tf.mean(h, [1, 2]);
    const logits = tf.elu(tf.fused.matMul({ a: pooled, b: cd as tf.Tensor2D, bias: cdb, activation: 'linear' }));
    return tf.add(tf.mul(tf.sum(tf.square(gram1)), 1e-4), tf.sum(tf.mul(logits, logits)));
  };
  return { params, forward };
}

nativeTest('gradients through tf.grad (image and weights) match the cpu kernels', async (t) => {
  await tf.setBackend('cpu');
  const { params, forward } = makeNet();
  const x = rand([2, 17, 15, 3], 0, 1) as tf.Tensor4D;
  const gradAll = () => tf.grads((xx: tf.Tensor, ...ws: tf.Tensor[]) => forward(xx as tf.Tensor4D, ws))([x, ...params]);
  uninstallNativeKernels();
  const ref = gradAll();
  await installNativeKernels();
  resetKernelStats();
  const got = gradAll();
  const names = ['image', 'w1', 'b1', 'w2 (depthwise)', 'w3 (fused)', 'b3', 'w4', 'b4', 'dense', 'dense bias'];
  for (let i = 0; i < ref.length; i++) {
    const err = relErr(got[i], ref[i]);
    t.true(err <= TOLERANCE, `gradient of ${names[i]}: relative error ${err}`);
  }
  const stats = nativeKernelStats();
  // Relu's gradient is the one-pass ConvlabReluGrad now (no Step); copy-kernels.test.ts checks it.
  for (const k of ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput',
    'DepthwiseConv2dNativeBackpropFilter', 'FusedConv2D', 'MaxPool', 'MaxPoolGrad', 'AvgPool', 'AvgPoolGrad', 'BatchMatMul', '_FusedMatMul', 'Relu', 'Relu6']) {
    t.true((stats[k]?.native ?? 0) > 0, `${k} ran natively (${JSON.stringify(stats[k])})`);
    t.is(stats[k]?.errors ?? 0, 0, `${k} had no addon errors (${stats[k]?.lastError})`);
  }
  tf.dispose([...ref, ...got, x, ...params]);
});

nativeTest('memory stays flat over 200 iterations of a style-transfer step', async (t) => {
  await tf.setBackend('cpu');
  await installNativeKernels();
  const layer = (cin: number, cout: number) => ({ w: rand([3, 3, cin, cout], -0.3, 0.3), b: rand([cout], -0.1, 0.1) });
  const layers = [layer(3, 16), layer(16, 16), layer(16, 32), layer(32, 32)];
  const features = (img: tf.Tensor4D) => {
    const out: tf.Tensor4D[] = [];
    let h = img;
    layers.forEach((l, i) => {
      h = tf.relu(tf.add(tf.conv2d(h, l.w as tf.Tensor4D, 1, 'same'), l.b)) as tf.Tensor4D;
      out.push(h);
      if (i === 1) h = tf.maxPool(h, 2, 2, 'valid');
    });
    return out;
  };
  const gram = (f: tf.Tensor4D) => {
    const m = tf.reshape(f, [-1, f.shape[3]]);
    return tf.div(tf.matMul(m, m, true, false), m.shape[0]);
  };
  const content = rand([1, 48, 48, 3], 0, 1) as tf.Tensor4D;
  const style = rand([1, 48, 48, 3], 0, 1) as tf.Tensor4D;
  const contentTarget = tf.tidy(() => features(content)[3]);
  const styleTargets = tf.tidy(() => features(style).map(gram));
  const image = tf.variable(content.clone());
  const loss = (img: tf.Tensor4D) => {
    const f = features(img);
    let l = tf.mean(tf.squaredDifference(f[3], contentTarget));
    f.forEach((fi, i) => { l = tf.add(l, tf.mean(tf.squaredDifference(gram(fi), styleTargets[i]))); });
    return l as tf.Scalar;
  };
  const step = tf.grad((img: tf.Tensor) => loss(img as tf.Tensor4D));
  const iterate = () => tf.tidy(() => {
    const g = step(image);
    image.assign(tf.clipByValue(tf.sub(image, tf.mul(g, 0.01)), 0, 1) as tf.Tensor4D);
  });
  for (let i = 0; i < 20; i++) iterate();
  if (global.gc) global.gc();
  const tensors0 = tf.memory().numTensors;
  const rss0 = process.memoryUsage().rss;
  let peakTensors = tensors0;
  for (let i = 0; i < 200; i++) {
    iterate();
    peakTensors = Math.max(peakTensors, tf.memory().numTensors);
  }
  if (global.gc) global.gc();
  const grownMB = (process.memoryUsage().rss - rss0) / 2 ** 20;
  t.is(tf.memory().numTensors, tensors0, 'tensor count after 200 more iterations');
  t.is(peakTensors, tensors0, 'no tensor outlives its iteration');
  // The loop allocates ~2 MB per iteration (400 MB over the run): a leak of any output would show.
  t.true(grownMB < 60, `RSS grew by ${grownMB.toFixed(1)} MB over 200 iterations`);
  t.true(Number.isFinite(image.dataSync()[0]));
  tf.dispose([image, content, style, contentTarget, ...styleTargets, ...layers.flatMap((l) => [l.w, l.b])]);
});
