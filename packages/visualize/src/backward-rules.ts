/**
 * Forward options for a backward rule. The per-ReLU rules themselves (deconvnet: relu of the signal;
 * guided: relu of the signal where the forward input was > 0; both uncapped for relu6) live in
 * @convlab/models' executor; this is the one place the methods of this app ask for them, so a rule
 * that needs more than the relu mode (e.g. a different pooling) has a single seam to change.
 */
import type { ConvNet, ForwardOptions, ReluBackward } from '@convlab/models';

export function backwardOptions(_model: ConvNet, relu: ReluBackward, base: Omit<ForwardOptions, 'outputs' | 'relu'> = {}): Omit<ForwardOptions, 'outputs'> {
  return { ...base, relu };
}
