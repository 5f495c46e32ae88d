/** BatchNormalization at inference: y = x * scale + shift, channels last. */
import { tf } from '@convlab/core';
import type { LayerHandler } from './registry.js';
import { weightByName } from './util.js';

export const batchNormHandler: LayerHandler = {
  classNames: ['BatchNormalization'],
  kind: 'batchnorm',
  fusion: 'scale-shift',
  build: (node, ctx) => {
    const { layer, config } = node;
    const axis = Array.isArray(config.axis) ? config.axis[0] : config.axis;
    const rank = layer.inputSpec?.[0]?.ndim ?? 4;
    if (axis !== -1 && axis !== rank - 1 && axis !== 3) return undefined;
    const eps = Number(config.epsilon ?? 1e-3);
    const mean = weightByName(node, 'moving_mean')!;
    const variance = weightByName(node, 'moving_variance')!;
    const gamma = config.scale === false ? undefined : weightByName(node, 'gamma');
    const beta = config.center === false ? undefined : weightByName(node, 'beta');
    // A missing gamma is ones, a missing beta zeros.
    const scale = ctx.keep(
      tf.tidy(() => {
        const inv = tf.rsqrt(tf.add(variance, eps));
        return gamma ? tf.mul(gamma, inv) : inv;
      }),
    );
    const shift = ctx.keep(tf.tidy(() => tf.sub(beta ?? tf.zerosLike(mean), tf.mul(mean, scale))));
    ctx.fusable({ op: 'scale-shift', scale, shift });
    return (xs) => tf.add(tf.mul(xs[0], scale), shift);
  },
};

export const normHandlers: LayerHandler[] = [batchNormHandler];
