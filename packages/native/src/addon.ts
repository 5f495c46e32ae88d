/**
 * Loads the compiled oneDNN addon (build/Release/convlab_native.node) on first use. Loading never
 * throws: callers get the addon or the reason it is unavailable.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Activation codes understood by the addon's fused kernels (csrc/common.h). */
export const ACTIVATION = { linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, elu: 5 } as const;

/** Unary op codes (csrc/eltwise.cc). */
export const UNARY = {
  Relu: 0, Relu6: 1, Step: 2, Sigmoid: 3, Tanh: 4, Square: 5, Neg: 6, LeakyRelu: 7, Elu: 8, Exp: 9, Sqrt: 10,
} as const;

/** Binary op codes (csrc/eltwise.cc). */
export const BINARY = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, SquaredDifference: 4, Maximum: 5, Minimum: 6 } as const;

/** Binary op codes that are not tfjs kernels: Relu6's and Relu's gradients (a = dy, b = x; grad-overrides.ts). */
export const BINARY_EXTRA = { Relu6Grad: 7, ReluGrad: 8 } as const;

export interface AddonInfo {
  version: string;
  threads: number;
  cpuRuntime: string;
  convCacheSize: number;
  poolCacheSize: number;
  /** Bytes of filters kept in oneDNN's layout (csrc/conv.cc FilterCache). */
  filterCacheBytes?: number;
}

/** The addon's functions. Shapes travel as Int32Arrays (see csrc/conv.cc, pool.cc, matmul.cc). */
export interface NativeAddon {
  info(): AddonInfo;
  clearCaches(): void;
  setThreads(n: number): number;
  /** glibc mallopt(M_MMAP_THRESHOLD), mallopt(M_TRIM_THRESHOLD); false where not glibc or refused. Absent in addons built before it. */
  keepFreedMemory?(mmapThreshold: number, trimThreshold: number, mmapMax?: number): boolean;
  /** filterId > 0: the filter's values are the same whenever this id is passed, so its reordered copy is cached (csrc/conv.cc). */
  convForward(p: Int32Array, x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array, activation: number, alpha: number, filterId?: number): void;
  convBackwardData(p: Int32Array, dy: Float32Array, w: Float32Array, dx: Float32Array, filterId?: number): void;
  convBackwardWeights(p: Int32Array, x: Float32Array, dy: Float32Array, dw: Float32Array): void;
  poolForward(p: Int32Array, kind: number, x: Float32Array, y: Float32Array): void;
  poolBackward(p: Int32Array, kind: number, x: Float32Array | null, dy: Float32Array, dx: Float32Array): void;
  matMul(p: Int32Array, a: Float32Array, b: Float32Array, c: Float32Array, bias: Float32Array | null, activation: number, alpha: number): void;
  unary(op: number, x: Float32Array, y: Float32Array, alpha: number): void;
  /** shape/stridesA/stridesB: any broadcast (csrc/eltwise.cc Layout; cpu-kernels.ts broadcastLayout). */
  binary(op: number, a: Float32Array, b: Float32Array, y: Float32Array, innerA?: number, innerB?: number, shape?: Int32Array, stridesA?: Int32Array, stridesB?: Int32Array): void;
}

/** Where the build puts the addon; CONVLAB_NATIVE_ADDON overrides it (set it to `off` to disable native kernels). */
export const ADDON_PATH = process.env.CONVLAB_NATIVE_ADDON || fileURLToPath(new URL('../build/Release/convlab_native.node', import.meta.url));

let cached: { addon?: NativeAddon; error?: string } | undefined;

/** The addon, or undefined with `addonError()` saying why. */
export function loadAddon(): NativeAddon | undefined {
  if (!cached) {
    if (ADDON_PATH === 'off') {
      cached = { error: 'disabled by CONVLAB_NATIVE_ADDON=off' };
    } else if (!existsSync(ADDON_PATH)) {
      cached = {
        error: 'addon not built (libdnnl-dev missing? install it, then run `npm run build:addon -w @convlab/native`)',
      };
    } else {
      try {
        // OpenMP threads that spin while waiting for work make every small kernel slow whenever the
        // cores are shared (measured 17x slower per training step on a busy 2-core machine) and
        // gain little on big ones. libgomp reads this when the addon loads it; users can override.
        if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) {
          process.env.OMP_WAIT_POLICY = 'PASSIVE';
        }
        const require = createRequire(import.meta.url);
        cached = { addon: require(ADDON_PATH) as NativeAddon };
      } catch (err) {
        const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
        cached = { error: `addon failed to load (${msg}); rebuild with \`npm run build:addon -w @convlab/native\`` };
      }
    }
  }
  return cached.addon;
}

export function addonError(): string | undefined {
  loadAddon();
  return cached?.error;
}

/**
 * CONVLAB_NATIVE_GUARD=1 (debugging): every output gets GUARD_FLOATS sentinel values on each side, and
 * checkOutputGuards() (called after each native kernel) throws when a kernel wrote outside its output.
 */
const GUARD_FLOATS = process.env.CONVLAB_NATIVE_GUARD ? 64 : 0;
const GUARD_BITS = 0x7fc0dead;
const guarded: Uint32Array[] = [];

/** Throws naming `what` when a native kernel wrote past either end of an output allocated since the last check. */
export function checkOutputGuards(what: string): void {
  if (!GUARD_FLOATS) return;
  for (const full of guarded) {
    const n = full.length - 2 * GUARD_FLOATS;
    for (let i = 0; i < GUARD_FLOATS; i++) {
      if (full[i] !== GUARD_BITS || full[GUARD_FLOATS + n + i] !== GUARD_BITS) {
        guarded.length = 0;
        throw new Error(`${what}: a native kernel wrote outside its ${n}-value output (CONVLAB_NATIVE_GUARD)`);
      }
    }
  }
  guarded.length = 0;
}

/** Float32 output storage. Large outputs skip the zero fill: every kernel writes all of its output. */
export function allocFloat32(n: number): Float32Array {
  if (GUARD_FLOATS) {
    const full = new Uint32Array(n + 2 * GUARD_FLOATS).fill(GUARD_BITS);
    full.fill(0, GUARD_FLOATS, GUARD_FLOATS + n);
    guarded.push(full);
    return new Float32Array(full.buffer, GUARD_FLOATS * 4, n);
  }
  if (n < 1 << 16) return new Float32Array(n);
  const buf = Buffer.allocUnsafeSlow(n * 4);
  return new Float32Array(buf.buffer, buf.byteOffset, n);
}
