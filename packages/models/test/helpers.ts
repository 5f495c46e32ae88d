/** Shared test helpers (not a test file). */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { tf, loadImage, cropImage, resizeImage, imageToTensor, type RgbImage } from '@convlab/core';

type Tensor = ReturnType<typeof tf.tensor>;

export const ASSETS = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'assets', 'content');

export async function photo(name: string): Promise<RgbImage> {
  return loadImage(join(ASSETS, name));
}

/** Crop a rectangle given as fractions of the image, resized to size x size. */
export async function cropResized(img: RgbImage, fx: number, fy: number, fw: number, fh: number, size: [number, number]): Promise<Tensor> {
  const c = cropImage(img, fx * img.width, fy * img.height, fw * img.width, fh * img.height);
  return imageToTensor(await resizeImage(c, { width: size[1], height: size[0] }));
}

/** max |a - b| / max |b|. */
export function relDiff(a: Tensor, b: Tensor): number {
  return tf.tidy(() => {
    const num = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    const den = tf.max(tf.abs(b)).dataSync()[0];
    return num / Math.max(den, 1e-12);
  });
}

export function cosine(a: Tensor, b: Tensor): number {
  return tf.tidy(() => {
    const x = tf.reshape(a, [-1]);
    const y = tf.reshape(b, [-1]);
    return tf.div(tf.sum(tf.mul(x, y)), tf.mul(tf.norm(x), tf.norm(y))).dataSync()[0];
  });
}

/** tf.grad for a function of an image batch (tf.grad's typing wants Tensor<Rank>). */
export function grad4(f: (x: ReturnType<typeof tf.tensor4d>) => Tensor): (x: Tensor) => Tensor {
  return tf.grad((x: Tensor) => f(x as ReturnType<typeof tf.tensor4d>));
}
