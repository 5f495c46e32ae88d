/**
 * One-pass Relu6 gradient for the cpu backend. tfjs's gradient is mul(dy, cast(mul(lessEqual(x, 6),
 * step(x)))): four full passes and four new tensors per layer, at every layer of MobileNetV2 (the
 * largest block of time in a MobileNetV2 input gradient once the convolutions are native). Here it is
 * one kernel, ConvlabRelu6Grad, with bit-identical results, NaN and Inf included (x NaN gives NaN; the
 * masked-out entries are dy * 0, so an infinite or NaN dy still gives NaN there, like the original).
 *
 * Gradients are global in tfjs (one registry for every backend), so the replacement gradient uses the
 * new kernel only while the cpu backend is active and the kernel is registered, and calls the original
 * gradient function otherwise (wasm, webgl, or after uninstall).
 */
import { Relu6, engine, getGradient, getKernel, registerGradient, registerKernel, unregisterKernel, zerosLike } from '@tensorflow/tfjs-core';
import type { GradConfig, KernelConfig, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { BINARY_EXTRA, allocFloat32, loadAddon } from './addon.js';
import type { CpuBackendLike } from './cpu-kernels.js';

export const RELU6_GRAD = 'ConvlabRelu6Grad';

interface Args {
  inputs: Record<string, TensorInfo>;
  backend: CpuBackendLike;
  attrs?: NamedAttrMap;
}

/**
 * dx = dy where 0 < x <= 6, dy * 0 elsewhere, NaN where x is NaN (tfjs's mask arithmetic, one pass).
 * The addon's branch-free loop; JavaScript (8 ns per value on random signs: branch misses) if the
 * addon predates the op.
 */
export function relu6GradValues(dy: Float32Array, x: Float32Array): Float32Array {
  const n = x.length;
  const dx = allocFloat32(n);
  if (n === 0) return dx;
  try {
    const addon = loadAddon();
    if (addon) {
      addon.binary(BINARY_EXTRA.Relu6Grad, dy, x, dx);
      return dx;
    }
  } catch {
    // an addon built before the op existed: fall through
  }
  for (let i = 0; i < n; i++) {
    const v = x[i];
    dx[i] = v !== v ? NaN : v > 0 && v <= 6 ? dy[i] : dy[i] * 0;
  }
  return dx;
}

/** Float32 storage; a float32 tensor cast from bool or int32 on the cpu backend still holds those arrays. */
function floats(backend: CpuBackendLike, t: TensorInfo): Float32Array {
  const v = backend.data.get(t.dataId).values;
  if (v instanceof Float32Array) return v;
  if (v instanceof Uint8Array || v instanceof Int32Array) return Float32Array.from(v);
  throw new Error(`${RELU6_GRAD}: expects numeric storage`);
}

function relu6GradKernel(args: Args): TensorInfo {
  const { inputs, backend } = args;
  const dy = floats(backend, inputs.dy), x = floats(backend, inputs.x);
  if (dy.length !== x.length) throw new Error(`${RELU6_GRAD}: dy and x differ in size`);
  return backend.makeTensorInfo(inputs.x.shape, 'float32', relu6GradValues(dy, x));
}

let original: GradConfig | undefined;

function useKernel(x: Tensor, dy: Tensor): boolean {
  return engine().backendName === 'cpu' && getKernel(RELU6_GRAD, 'cpu') !== undefined && x.dtype === 'float32'
    && dy.dtype === 'float32' && x.size === dy.size;
}

/** Register ConvlabRelu6Grad on the cpu backend and route Relu6's gradient through it there. */
export function installRelu6Grad(): void {
  const current = getGradient(Relu6);
  if (!current) return;
  if (!original) original = current;
  const base = original;
  if (!getKernel(RELU6_GRAD, 'cpu')) {
    registerKernel({ kernelName: RELU6_GRAD, backendName: 'cpu', kernelFunc: relu6GradKernel as unknown as KernelConfig['kernelFunc'] });
  }
  registerGradient({
    kernelName: Relu6,
    inputsToSave: base.inputsToSave,
    outputsToSave: base.outputsToSave,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const g = Array.isArray(dy) ? dy[0] : dy;
      if (!useKernel(x, g)) return base.gradFunc(dy, saved, attrs);
      return { x: () => engine().runKernel(RELU6_GRAD, { dy: g, x }) as Tensor };
    },
  });
  // Its own gradient (second-order use): linear in dy with the same mask, constant in x.
  if (!getGradient(RELU6_GRAD)) {
    registerGradient({
      kernelName: RELU6_GRAD,
      inputsToSave: ['x'],
      gradFunc: (ddx, saved) => {
        const [x] = saved;
        const g = Array.isArray(ddx) ? ddx[0] : ddx;
        return { dy: () => engine().runKernel(RELU6_GRAD, { dy: g, x }) as Tensor, x: () => zerosLike(x) };
      },
    });
  }
}

/** Put tfjs's own Relu6 gradient back and remove the kernel. */
export function uninstallRelu6Grad(): void {
  if (original) registerGradient(original);
  if (getKernel(RELU6_GRAD, 'cpu')) unregisterKernel(RELU6_GRAD, 'cpu');
}
