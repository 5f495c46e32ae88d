/**
 * The style statistics `--style-loss` chooses from. Each is a StyleTermFactory (./gatys.ts): given a layer's
 * style features it builds the target once and returns the differentiable per-layer loss E_l. To add one,
 * write it in a file named after its idea (with the paper's equation in the header) and add it here: the
 * option schema, the CLI's choices and its help follow.
 */
import { gramStyleTerm, type StyleTermFactory } from './gatys.js';
import { slicedWassersteinTerm } from './sliced-wasserstein.js';

export const STYLE_LOSSES = {
  /** Gram matrices, Gatys et al. (Eq. 3-5). */
  gram: gramStyleTerm,
  /** Sliced Wasserstein distance of the feature distributions, Heitz et al. 2021. */
  sw: slicedWassersteinTerm,
} satisfies Record<string, StyleTermFactory>;

export type StyleLossName = keyof typeof STYLE_LOSSES;
export const STYLE_LOSS_NAMES = Object.keys(STYLE_LOSSES) as [StyleLossName, ...StyleLossName[]];
