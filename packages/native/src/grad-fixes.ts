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
import { BatchMatMul, Maximum, Minimum, SquaredDifference, broadcast_util, getGradient, registerGradient, reshape, sum, util } from '@tensorflow/tfjs-core';
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
}

/** Put tfjs's own gradients back (before/after measurements). */
export function uninstallGradientFixes(): void {
  for (const config of originals.values()) registerGradient(config);
  originals.clear();
}

/** Whether the fixes are in. */
export function gradientFixesInstalled(): boolean {
  return originals.size > 0;
}
