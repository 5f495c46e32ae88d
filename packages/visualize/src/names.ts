/**
 * The names the options choose from (attribution methods with their aliases, projection normalisations),
 * in a module that loads no tfjs: options.ts and the job kinds (jobs.ts) import it, so flags and HTTP
 * bodies are checked without starting the engine. attribution.ts, methods/index.ts and render.ts
 * re-export these where the methods and renderers live.
 */
import { ConvlabError } from '@convlab/core/light';

export type MethodName =
  | 'deconvnet'
  | 'guided'
  | 'saliency'
  | 'smoothgrad'
  | 'gradcam'
  | 'guided-gradcam'
  | 'integrated-gradients'
  | 'input-x-gradient'
  | 'vargrad'
  | 'gradcam-pp'
  | 'scorecam'
  | 'layercam'
  | 'occlusion';

/** Every method (`--methods all`). */
export const METHOD_NAMES: readonly MethodName[] = [
  'deconvnet',
  'guided',
  'saliency',
  'smoothgrad',
  'gradcam',
  'guided-gradcam',
  'integrated-gradients',
  'input-x-gradient',
  'vargrad',
  'gradcam-pp',
  'scorecam',
  'layercam',
  'occlusion',
];

/**
 * The default of `--methods`: the methods of the papers the app reproduces (fast). The newer ones
 * (integrated gradients, Score-CAM and occlusion take tens to thousands of passes) are asked for by
 * name or with `all`.
 */
export const DEFAULT_METHODS: readonly MethodName[] = ['deconvnet', 'guided', 'saliency', 'smoothgrad', 'gradcam', 'guided-gradcam'];

const ALIASES: Record<string, MethodName> = {
  guided_backprop: 'guided',
  'guided-backprop': 'guided',
  guidedbackprop: 'guided',
  gradient: 'saliency',
  vanilla: 'saliency',
  'grad-cam': 'gradcam',
  guided_gradcam: 'guided-gradcam',
  'guided-grad-cam': 'guided-gradcam',
  ig: 'integrated-gradients',
  integrated_gradients: 'integrated-gradients',
  integratedgradients: 'integrated-gradients',
  'input-x-grad': 'input-x-gradient',
  inputxgradient: 'input-x-gradient',
  'input*gradient': 'input-x-gradient',
  'gradient*input': 'input-x-gradient',
  ixg: 'input-x-gradient',
  'var-grad': 'vargrad',
  'gradcam++': 'gradcam-pp',
  'grad-cam++': 'gradcam-pp',
  gradcampp: 'gradcam-pp',
  'gradcam-plus-plus': 'gradcam-pp',
  'score-cam': 'scorecam',
  'layer-cam': 'layercam',
  'captum-occlusion': 'occlusion',
  'occlusion-windows': 'occlusion',
};

/** Integrated Gradients' quadrature rules (methods/integrated-gradients.ts). */
export const IG_RULES = ['riemann-left', 'riemann-right', 'riemann-middle', 'trapezoid', 'gauss-legendre'] as const;
export type IgRule = (typeof IG_RULES)[number];
/** Integrated Gradients' defaults (measured in methods/integrated-gradients.ts's header): start at 32 intervals of the trapezoid, double until complete within the tolerance, at most 256. */
export const DEFAULT_IG_STEPS = 32;
export const DEFAULT_IG_MAX_STEPS = 256;
export const DEFAULT_IG_RULE: IgRule = 'trapezoid';

/** Baselines of integrated gradients (methods/scores.ts). */
export const BASELINES = ['black', 'blur', 'noise', 'uniform', 'zero'] as const;
export type BaselineKind = (typeof BASELINES)[number];

/** Score-CAM's channel weights (methods/score-cam.ts). */
export const SCORECAM_MODES = ['softmax', 'difference'] as const;
export type ScoreCamMode = (typeof SCORECAM_MODES)[number];

export function parseMethodName(name: string): MethodName {
  const n = name.trim().toLowerCase();
  if ((METHOD_NAMES as readonly string[]).includes(n)) return n as MethodName;
  if (ALIASES[n]) return ALIASES[n];
  throw new ConvlabError(`unknown attribution method "${name}"`, { hint: `use any of: ${METHOD_NAMES.join(', ')}` });
}

/** Contrast stretches of image-space maps (see render.ts). */
export const NORMALIZATIONS = ['robust', 'std', 'symmetric', 'minmax'] as const;

export type ProjectionNormalization = (typeof NORMALIZATIONS)[number];
