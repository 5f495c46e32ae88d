/**
 * One-pass Relu6 and Relu gradients for the cpu backend. tfjs's Relu6 gradient is mul(dy, cast(mul(lessEqual(x,
 * 6), step(x)))): four full passes and four new tensors per layer, at every layer of MobileNetV2 (the
 * largest block of time in a MobileNetV2 input gradient once the convolutions are native); its Relu gradient,
 * mul(dy, step(x)), is two (VGG19's at 512 px: 58 MB tensors at conv1). Here each is one kernel,
 * ConvlabRelu6Grad and ConvlabReluGrad, with bit-identical results, NaN and Inf included (x NaN gives NaN; the
 * masked-out entries are dy * 0, so an infinite or NaN dy still gives NaN there, like the original).
 * ConvlabReluGrad also serves frozenConv2d's fused-relu gradient, whose mask comes from relu's output (the same
 * mask: relu(x) > 0 exactly where x > 0).
 *
 * Gradients are global in tfjs (one registry for every backend), so the replacement gradient uses the
 * new kernel only while the cpu backend is active and the kernel is registered, and calls the original
 * gradient function otherwise (wasm, webgl, or after uninstall).
 */
import { Relu, Relu6, engine, getGradient, getKernel, registerGradient, registerKernel, unregisterKernel, zerosLike } from '@tensorflow/tfjs-core';
import type { GradConfig, KernelConfig, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { BINARY_EXTRA, allocFloat32, checkOutputGuards, loadAddon } from './addon.js';
import type { CpuBackendLike } from './cpu-kernels.js';

export const RELU6_GRAD = 'ConvlabRelu6Grad';
export const RELU_GRAD = 'ConvlabReluGrad';

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
  return maskedValues(dy, x, BINARY_EXTRA.Relu6Grad, (v) => v > 0 && v <= 6);
}

/** dx = dy where x > 0, dy * 0 elsewhere, NaN where x is NaN (tfjs's mul(dy, step(x)), one pass). */
export function reluGradValues(dy: Float32Array, x: Float32Array): Float32Array {
  return maskedValues(dy, x, BINARY_EXTRA.ReluGrad, (v) => v > 0);
}

function maskedValues(dy: Float32Array, x: Float32Array, op: number, keep: (v: number) => boolean): Float32Array {
  const n = x.length;
  const dx = allocFloat32(n);
  if (n === 0) return dx;
  try {
    const addon = loadAddon();
    if (addon) {
      addon.binary(op, dy, x, dx);
      checkOutputGuards('ReluGrad');
      return dx;
    }
  } catch {
    // an addon built before the op existed: fall through
  }
  for (let i = 0; i < n; i++) {
    const v = x[i];
    dx[i] = v !== v ? NaN : keep(v) ? dy[i] : dy[i] * 0;
  }
  return dx;
}

/** Float32 storage; a float32 tensor cast from bool or int32 on the cpu backend still holds those arrays. */
function floats(backend: CpuBackendLike, t: TensorInfo, kernelName: string): Float32Array {
  const v = backend.data.get(t.dataId).values;
  if (v instanceof Float32Array) return v;
  if (v instanceof Uint8Array || v instanceof Int32Array) return Float32Array.from(v);
  throw new Error(`${kernelName}: expects numeric storage`);
}

function maskKernel(kernelName: string, values: (dy: Float32Array, x: Float32Array) => Float32Array) {
  return (args: Args): TensorInfo => {
    const { inputs, backend } = args;
    const dy = floats(backend, inputs.dy, kernelName), x = floats(backend, inputs.x, kernelName);
    if (dy.length !== x.length) throw new Error(`${kernelName}: dy and x differ in size`);
    return backend.makeTensorInfo(inputs.x.shape, 'float32', values(dy, x));
  };
}

const originals = new Map<string, GradConfig>();

/** Whether `kernel` (ConvlabReluGrad or ConvlabRelu6Grad) can take dy and x now: cpu backend, registered, float32. */
export function maskKernelUsable(kernel: string, x: Tensor, dy: Tensor): boolean {
  return engine().backendName === 'cpu' && getKernel(kernel, 'cpu') !== undefined && x.dtype === 'float32'
    && dy.dtype === 'float32' && x.size === dy.size;
}

function install(op: string, kernel: string, values: (dy: Float32Array, x: Float32Array) => Float32Array): void {
  const current = getGradient(op);
  if (!current) return;
  if (!originals.has(op)) originals.set(op, current);
  const base = originals.get(op)!;
  if (!getKernel(kernel, 'cpu')) {
    registerKernel({ kernelName: kernel, backendName: 'cpu', kernelFunc: maskKernel(kernel, values) as unknown as KernelConfig['kernelFunc'] });
  }
  registerGradient({
    kernelName: op,
    inputsToSave: base.inputsToSave,
    outputsToSave: base.outputsToSave,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const g = Array.isArray(dy) ? dy[0] : dy;
      if (!maskKernelUsable(kernel, x, g)) return base.gradFunc(dy, saved, attrs);
      return { x: () => engine().runKernel(kernel, { dy: g, x }) as Tensor };
    },
  });
  // Its own gradient (second-order use): linear in dy with the same mask, constant in x.
  if (!getGradient(kernel)) {
    registerGradient({
      kernelName: kernel,
      inputsToSave: ['x'],
      gradFunc: (ddx, saved) => {
        const [x] = saved;
        const g = Array.isArray(ddx) ? ddx[0] : ddx;
        return { dy: () => engine().runKernel(kernel, { dy: g, x }) as Tensor, x: () => zerosLike(x) };
      },
    });
  }
}

/** Register ConvlabRelu6Grad and ConvlabReluGrad on the cpu backend and route Relu6's and Relu's gradients through them there. */
export function installRelu6Grad(): void {
  install(Relu6, RELU6_GRAD, relu6GradValues);
  install(Relu, RELU_GRAD, reluGradValues);
}

/** Put tfjs's own Relu6 and Relu gradients back and remove the kernels. */
export function uninstallRelu6Grad(): void {
  for (const [op, config] of originals) registerGradient({ ...config, kernelName: op });
  for (const k of [RELU6_GRAD, RELU_GRAD]) if (getKernel(k, 'cpu')) unregisterKernel(k, 'cpu');
}
