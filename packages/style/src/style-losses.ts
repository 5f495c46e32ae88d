/**
 * The style statistics `--style-loss` chooses from. Each is a StyleTermFactory (./gatys.ts): given a layer's
 * style features it builds the target once and returns the differentiable per-layer loss E_l. To add one,
 * write it in a file named after its idea (with the paper's equation in the header), add its name to
 * STYLE_LOSS_NAMES in ./options.ts (kept free of tfjs) and its factory here (the type check below requires
 * exactly one factory per name): the option schema, the CLI's choices and its help follow.
 */
import { gramStyleTerm, type StyleTermFactory } from './gatys.js';
import type { StyleLossName } from './options.js';
import { slicedWassersteinTerm } from './sliced-wasserstein.js';

export const STYLE_LOSSES = {
  /** Gram matrices, Gatys et al. (Eq. 3-5). */
  gram: gramStyleTerm,
  /** Sliced Wasserstein distance of the feature distributions, Heitz et al. 2021. */
  sw: slicedWassersteinTerm,
} satisfies Record<StyleLossName, StyleTermFactory>;
