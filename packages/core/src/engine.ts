/**
 * Backend choice. `auto` tries, in order: tensorflow (libtensorflow through tfjs-node-gpu / tfjs-node,
 * optional installs), native (tfjs cpu backend with @convlab/native's oneDNN kernels), wasm (XNNPACK),
 * cpu (pure JS). It reports what it picked and why the faster ones were skipped, in one line.
 */
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ConvlabError } from './errors.js';

export type BackendName = 'tensorflow' | 'native' | 'wasm' | 'cpu';
export type BackendChoice = BackendName | 'auto';
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'native', 'wasm', 'cpu'];

export interface EngineInfo {
  /** convlab's name for the backend in use. */
  backend: BackendName;
  /** tfjs's registered backend name (native runs on tfjs's 'cpu' backend with kernels swapped). */
  tfBackend: string;
  /** Details such as library version or thread count. */
  detail: string;
  /** Backends tried before this one, with the reason each was skipped. */
  skipped: { backend: BackendName; reason: string }[];
  /** The one line printed at start. */
  summary: string;
}

/**
 * A way to bring up one backend. Throw an Error whose message says why it is not available.
 * Returns the tfjs backend name to activate and a detail string.
 */
export type BackendLoader = () => Promise<{ tfBackend: string; detail: string }>;

// Module specifiers kept in variables so TypeScript does not require these optional packages.
const TFJS_NODE_GPU = '@tensorflow/tfjs-node-gpu';
const TFJS_NODE = '@tensorflow/tfjs-node';
const NATIVE = '@convlab/native';

function shortReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/Cannot find (module|package)|ERR_MODULE_NOT_FOUND/.test(msg)) return 'not installed';
  return msg.split('\n')[0].slice(0, 160);
}

/** A native package exposes these (see packages/native); the engine only relies on this shape. */
interface NativeModule {
  installNativeKernels(): Promise<{ detail: string }>;
  installWasmKernels?(): Promise<{ detail: string }>;
  uninstallNativeKernels?(): void;
  installCpuParityKernels?(): { detail: string };
}

const loaders: Record<BackendName, BackendLoader> = {
  async tensorflow() {
    const reasons: string[] = [];
    for (const spec of [TFJS_NODE_GPU, TFJS_NODE]) {
      try {
        await import(spec);
        if (tfc.findBackend('tensorflow')) return { tfBackend: 'tensorflow', detail: spec };
        reasons.push(`${spec}: loaded but registered no backend`);
      } catch (err) {
        reasons.push(`${spec.replace('@tensorflow/', '')} ${shortReason(err)}`);
      }
    }
    throw new Error(reasons.join(', '));
  },
  async native() {
    let mod: NativeModule;
    try {
      mod = (await import(NATIVE)) as NativeModule;
    } catch (err) {
      throw new Error(`@convlab/native ${shortReason(err)}`);
    }
    // The parity kernels first: oneDNN's replacements fall back to them on cases they do not take.
    const parity = mod.installCpuParityKernels?.();
    const { detail } = await mod.installNativeKernels();
    return { tfBackend: 'cpu', detail: parity ? `${detail}; ${parity.detail}` : detail };
  },
  async wasm() {
    await import('@tensorflow/tfjs-backend-wasm');
    let detail = 'XNNPACK, 1 thread';
    try {
      const mod = (await import(NATIVE)) as NativeModule;
      if (mod.installWasmKernels) detail += `; ${(await mod.installWasmKernels()).detail}`;
    } catch {
      // The wasm work-around kernels are a speed-up only; plain wasm still works.
    }
    return { tfBackend: 'wasm', detail };
  },
  async cpu() {
    // native and cpu share tfjs's 'cpu' backend: take the oneDNN kernels back out if they are in, and
    // put in the parity kernels (tfjs's own pool gradients differ from TensorFlow's; no addon needed).
    let detail = 'pure JavaScript kernels (slow)';
    try {
      const mod = (await import(NATIVE)) as NativeModule;
      mod.uninstallNativeKernels?.();
      const parity = mod.installCpuParityKernels?.();
      if (parity) detail += `; ${parity.detail}`;
    } catch {
      // @convlab/native not installed: nothing was swapped in, and tfjs's own kernels stay.
    }
    return { tfBackend: 'cpu', detail };
  },
};

/** Replace how a backend is brought up (tests, or a package that provides a new one). */
export function setBackendLoader(name: BackendName, loader: BackendLoader): void {
  loaders[name] = loader;
}

let current: EngineInfo | undefined;

/**
 * tfjs's cpu backend prints a "install tfjs-node" banner on its first write in Node. Here the cpu
 * backend is a deliberate choice (or carries the native kernels), so the banner is only noise.
 */
function silenceCpuBanner(tfBackend: string): void {
  if (tfBackend !== 'cpu') return;
  const backend = tfc.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (backend && 'firstUse' in backend) backend.firstUse = false;
}

type ErrorEvent = 'uncaughtException' | 'unhandledRejection';
const ERROR_EVENTS: ErrorEvent[] = ['uncaughtException', 'unhandledRejection'];

// Typed as a plain EventEmitter: process.listeners' overloads do not accept a union of event names.
const processEvents = process as NodeJS.EventEmitter;

function processErrorListeners(): Map<ErrorEvent, Set<unknown>> {
  return new Map(ERROR_EVENTS.map((e) => [e, new Set<unknown>(processEvents.listeners(e))]));
}

/**
 * The emscripten glue of tfjs-backend-wasm installs process-wide handlers that rethrow every error,
 * so an ordinary uncaught error prints the whole minified wasm glue file. Take them back out.
 */
function removeAddedErrorListeners(before: Map<ErrorEvent, Set<unknown>>): void {
  for (const event of ERROR_EVENTS) {
    for (const listener of processEvents.listeners(event)) {
      if (!before.get(event)!.has(listener)) processEvents.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
}

/** The engine chosen by the last initEngine call, if any. */
export function engineInfo(): EngineInfo | undefined {
  return current;
}

function parseChoice(value: string, source: string): BackendChoice {
  const v = value.trim().toLowerCase();
  if (v === 'auto' || (BACKEND_ORDER as readonly string[]).includes(v)) return v as BackendChoice;
  throw new ConvlabError(`unknown backend "${value}" from ${source}`, {
    hint: `use one of: auto, ${BACKEND_ORDER.join(', ')}`,
  });
}

export interface InitEngineOptions {
  /** Requested backend; default: CONVLAB_BACKEND or 'auto'. */
  backend?: BackendChoice | string;
  /** Print the one-line summary to stderr (default true). */
  log?: boolean;
}

/**
 * Bring up a backend and make it tfjs's active one. Calling it again with the same choice is cheap.
 * An explicit backend that cannot load is an error; `auto` falls through to the next.
 */
export async function initEngine(options: InitEngineOptions = {}): Promise<EngineInfo> {
  const requested =
    options.backend !== undefined
      ? parseChoice(options.backend, '--backend')
      : process.env.CONVLAB_BACKEND
        ? parseChoice(process.env.CONVLAB_BACKEND, 'CONVLAB_BACKEND')
        : 'auto';
  if (current && (requested === 'auto' || requested === current.backend)) return current;

  const candidates = requested === 'auto' ? BACKEND_ORDER : [requested];
  const skipped: EngineInfo['skipped'] = [];
  for (const backend of candidates) {
    try {
      const before = processErrorListeners();
      const { tfBackend, detail } = await loaders[backend]();
      const ok = await tfc.setBackend(tfBackend);
      if (!ok) throw new Error(`tfjs could not initialise backend '${tfBackend}'`);
      await tfc.ready();
      removeAddedErrorListeners(before);
      silenceCpuBanner(tfBackend);
      const skippedText = skipped.length ? `; skipped ${skipped.map((s) => `${s.backend} (${s.reason})`).join(', ')}` : '';
      const summary = `convlab: backend ${backend} (${detail})${skippedText}`;
      current = { backend, tfBackend, detail, skipped, summary };
      if (options.log ?? true) process.stderr.write(summary + '\n');
      return current;
    } catch (err) {
      if (requested !== 'auto') {
        throw new ConvlabError(`backend "${backend}" is not available: ${shortReason(err)}`, {
          hint: 'pick another with --backend or CONVLAB_BACKEND (auto, tensorflow, native, wasm, cpu)',
        });
      }
      skipped.push({ backend, reason: shortReason(err) });
    }
  }
  // cpu always loads, so this is unreachable unless a custom loader broke it.
  throw new ConvlabError('no TensorFlow.js backend could be initialised', { hint: 'reinstall with npm ci' });
}
