/**
 * Gradient functions of tfjs-core that throw on broadcast inputs: SquaredDifference, Maximum, Minimum
 * and BatchMatMul return a gradient of the broadcast output's shape for an operand that was
 * broadcast (e.g. tf.squaredDifference(x [2,3,4,5], t [5]), or a batch of 1 against a batch of 3 in
 * tf.matMul), and tfjs's tape rejects it ("The gradient of input 'b' has shape ..."). Found by
 * test/parity.test.ts. The fix wraps tfjs's own gradient and sums it over the broadcast axes, as
 * tfjs already does for Add, Sub, Mul and Div; where no operand is broadcast the result is unchanged.
 *
 * Gradients are global in tfjs (one registry for every backend), so this fixes cpu, native and wasm
 * at once; installCpuParityKernels and installWasmKernels install it.
 */
import { BatchMatMul, Maximum, Minimum, MirrorPad, SquaredDifference, add, broadcast_util, getGradient, pad, registerGradient, reshape, reverse, slice, sum, util } from '@tensorflow/tfjs-core';
import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';

/** Kernels whose gradients are wrapped. */
export const BROADCAST_GRAD_FIXES: readonly string[] = [SquaredDifference, Maximum, Minimum, BatchMatMul];

const originals = new Map<string, GradConfig>();

/** A gradient of the broadcast output's shape, summed back to `shape`. */
function reduceTo(g: Tensor, shape: number[]): Tensor {
  if (util.arraysEqual(g.shape, shape)) return g;
  const axes = broadcast_util.getReductionAxes(shape, g.shape);
  return reshape(axes.length ? sum(g, axes) : g, shape);
}

/**
 * The gradient of MirrorPad. tfjs's own returns only the centre of dy (dy.slice(before, x.shape)), dropping
 * what the reflected copies contributed: a network with reflection padding (fast style transfer's
 * transformation network) trained with it gets border gradients that are wrong. Here each padded axis folds
 * its two margins back, reversed, onto the positions they copied: 1..before and n-1-after..n-2 for 'reflect',
 * 0..before-1 and n-after..n-1 for 'symmetric'.
 */
export function mirrorPadGradient(dy: Tensor, shape: number[], paddings: [number, number][], mode: 'reflect' | 'symmetric'): Tensor {
  const offset = mode === 'reflect' ? 1 : 0;
  let g = dy;
  for (let axis = 0; axis < shape.length; axis++) {
    const [before, after] = paddings[axis];
    if (before === 0 && after === 0) continue;
    const n = shape[axis];
    const along = (start: number, size: number) => {
      const begin = g.shape.map((_, i) => (i === axis ? start : 0));
      const sizes = g.shape.map((d, i) => (i === axis ? size : d));
      return slice(g, begin, sizes);
    };
    const padAlong = (t: Tensor, lo: number, hi: number) => pad(t, t.shape.map((_, i) => (i === axis ? [lo, hi] : [0, 0])) as [number, number][]);
    let folded = along(before, n);
    if (before > 0) folded = add(folded, padAlong(reverse(along(0, before), axis), offset, n - offset - before));
    if (after > 0) folded = add(folded, padAlong(reverse(along(before + n, after), axis), n - offset - after, offset));
    g = folded;
  }
  return g;
}

let mirrorPadOriginal: GradConfig | undefined;

/** Wrap tfjs's gradients of BROADCAST_GRAD_FIXES (idempotent; a no-op before tfjs's gradients are registered). */
export function installGradientFixes(): void {
  for (const name of BROADCAST_GRAD_FIXES) {
    if (originals.has(name)) continue;
    const base = getGradient(name);
    if (!base || !base.inputsToSave || base.inputsToSave.join() !== 'a,b') continue;
    originals.set(name, base);
    registerGradient({
      ...base,
      gradFunc: (dy, saved, attrs) => {
        const grads = base.gradFunc(dy, saved, attrs);
        const [a, b] = saved;
        return { a: () => reduceTo(grads.a(), a.shape), b: () => reduceTo(grads.b(), b.shape) };
      },
    });
  }
  if (!mirrorPadOriginal) {
    mirrorPadOriginal = getGradient(MirrorPad);
    registerGradient({
      kernelName: MirrorPad,
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const a = attrs as unknown as { paddings: [number, number][]; mode: 'reflect' | 'symmetric' };
        return { x: () => mirrorPadGradient(dy as Tensor, saved[0].shape, a.paddings, a.mode) };
      },
    });
  }
}

/** Put tfjs's own gradients back (before/after measurements). */
export function uninstallGradientFixes(): void {
  for (const config of originals.values()) registerGradient(config);
  originals.clear();
  if (mirrorPadOriginal) registerGradient(mirrorPadOriginal);
  mirrorPadOriginal = undefined;
}

/** Whether the fixes are in. */
export function gradientFixesInstalled(): boolean {
  return originals.size > 0;
}
