/** Spatial reshaping: ZeroPadding2D, Cropping2D, UpSampling2D, Flatten, Reshape. */
import { tf } from '@convlab/core';
import type { LayerHandler, Tensor4D } from './registry.js';
import { channelsFirst, pair, zeroPaddingOf } from './util.js';

export const zeroPaddingHandler: LayerHandler = {
  classNames: ['ZeroPadding2D'],
  kind: 'pad',
  build: ({ config }) => {
    if (channelsFirst(config)) return undefined;
    const pads = zeroPaddingOf(config);
    return (xs) => tf.pad(xs[0], [[0, 0], pads[0], pads[1], [0, 0]]);
  },
  geometry: ({ config }) => ({ kernel: [1, 1], strides: [1, 1], dilation: [1, 1], padding: zeroPaddingOf(config) }),
};

export const croppingHandler: LayerHandler = {
  classNames: ['Cropping2D'],
  kind: 'other',
  build: ({ config }) => {
    if (channelsFirst(config)) return undefined;
    const c = config.cropping as [[number, number], [number, number]];
    return (xs) => {
      const [n, h, w, ch] = xs[0].shape;
      return tf.slice(xs[0], [0, c[0][0], c[1][0], 0], [n, h - c[0][0] - c[0][1], w - c[1][0] - c[1][1], ch]);
    };
  },
};

export const upSamplingHandler: LayerHandler = {
  classNames: ['UpSampling2D'],
  kind: 'other',
  build: ({ config }) => {
    if (channelsFirst(config)) return undefined;
    const [sh, sw] = pair(config.size, 2);
    const bilinear = config.interpolation === 'bilinear';
    return (xs) => {
      const x = xs[0] as Tensor4D;
      const size: [number, number] = [x.shape[1] * sh, x.shape[2] * sw];
      return bilinear ? tf.image.resizeBilinear(x, size) : tf.image.resizeNearestNeighbor(x, size);
    };
  },
};

export const flattenHandler: LayerHandler = {
  classNames: ['Flatten'],
  kind: 'flatten',
  build: () => (xs) => tf.reshape(xs[0], [xs[0].shape[0], -1]),
};

export const reshapeHandler: LayerHandler = {
  classNames: ['Reshape'],
  kind: 'other',
  build: ({ config }) => {
    const target = config.targetShape as number[];
    return (xs) => tf.reshape(xs[0], [xs[0].shape[0], ...target]);
  },
};

export const reshapeHandlers: LayerHandler[] = [zeroPaddingHandler, croppingHandler, upSamplingHandler, flattenHandler, reshapeHandler];
