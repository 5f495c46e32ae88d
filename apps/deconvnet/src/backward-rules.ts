/**
 * ReLU6 under the deconvnet and guided rules. The models' executor gates the backward signal of
 * relu6 by x <= 6 in every mode, so an activation saturated at 6 (common in MobileNetV2, and exactly
 * the strongest activations a top-9 search picks) projects to an all-zero image. Zeiler & Fergus's
 * deconvnet ReLU ignores the forward values altogether (relu of the signal), and guided backprop
 * only adds the x > 0 gate; neither has a reason to stop at 6. So, for those two modes, each relu6
 * layer's output is recomputed from its input (same forward values) with a backward rule without
 * the cap, through ForwardOptions.override. The plain gradient (saliency) keeps the true derivative.
 */
import { tf } from '@convlab/core';
import type { ConvNet, ForwardOptions, ReluBackward } from '@convlab/models';

// Same spelling as @convlab/models' ops (tf.customGrad's overloads accept it).
type Tensor = ReturnType<typeof tf.tensor>;

function uncappedRelu6(x: Tensor, mode: 'deconvnet' | 'guided'): Tensor {
  const fn = (input: Tensor, save: (ts: Tensor[]) => void) => {
    save([input]);
    return {
      value: tf.relu6(input),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const g = tf.relu(dy);
        return [mode === 'guided' ? tf.mul(g, tf.step(saved[0])) : g];
      },
    };
  };
  const f = tf.customGrad(fn as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as Tensor;
}

const relu6Cache = new WeakMap<ConvNet, Map<string, string>>();

/** relu6 layers (as their own layers) -> the layer feeding each. */
function relu6Inputs(model: ConvNet): Map<string, string> {
  let m = relu6Cache.get(model);
  if (!m) {
    m = new Map(model.layers.filter((l) => l.kind === 'relu' && l.activation === 'relu6' && l.inbound.length === 1).map((l) => [l.name, l.inbound[0]]));
    relu6Cache.set(model, m);
  }
  return m;
}

/**
 * Forward options for a backward rule: the relu mode plus, for deconvnet/guided, the relu6 rewrite.
 * Build it per forward call (it remembers the inputs it sees). An existing override runs first.
 */
export function backwardOptions(model: ConvNet, relu: ReluBackward, base: Omit<ForwardOptions, 'outputs' | 'relu'> = {}): Omit<ForwardOptions, 'outputs'> {
  if (relu === 'normal') return { ...base, relu };
  const targets = relu6Inputs(model);
  if (targets.size === 0) return { ...base, relu };
  const sources = new Set(targets.values());
  const seen = new Map<string, Tensor>();
  const inner = base.override;
  return {
    ...base,
    relu,
    override: (name, output) => {
      const replaced = inner?.(name, output);
      const value = replaced ?? output;
      if (sources.has(name)) seen.set(name, value);
      const src = targets.get(name);
      if (src && replaced === undefined) {
        const x = seen.get(src);
        if (x) return uncappedRelu6(x, relu);
      }
      return replaced;
    },
  };
}
