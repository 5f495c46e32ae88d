/**
 * Inference-time fusion of conv [-> batch norm] [-> relu/relu6] chains into one tfjs fused conv.
 *
 * planFusion is a pure function of the node list: which convs head a chain and which nodes the chain
 * swallows. The executor asks the layer handlers for each node's fusion role (handler.fusion, plus the
 * weights the handler offered while building), plans once, and at run time uses a chain only when no
 * gradient is being recorded, no override is set, fusion is on, and none of the swallowed nodes is
 * itself a requested output (chainUsable). foldChain folds the batch norm into the conv's weights.
 */
import { tf } from '@convlab/core';
import type { Padding } from './ops.js';

type Tensor = ReturnType<typeof tf.tensor>;
type Tensor4D = ReturnType<typeof tf.tensor4d>;

/** A conv's weights and geometry, offered by its handler (kernel HWIO, depthwise [kh, kw, c, m]). */
export interface FusableConv {
  op: 'conv';
  depthwise: boolean;
  kernel: Tensor4D;
  bias?: Tensor;
  strides: [number, number];
  padding: Padding;
  dilation: [number, number];
  /** The conv's own Keras activation name ('linear', 'relu', ...). */
  activation: string;
}

/** A per-channel y = x * scale + shift (inference batch norm), offered by its handler. */
export interface FusableScaleShift {
  op: 'scale-shift';
  scale: Tensor;
  shift: Tensor;
}

/** How one node can take part in a chain. */
export type FusionRole =
  | { op: 'conv'; activation: string; bias: boolean }
  | { op: 'scale-shift' }
  | { op: 'relu'; flavour: 'relu' | 'relu6' };

export interface FusionNode {
  name: string;
  inbound: string[];
  fusion?: FusionRole;
}

export type FusedActivation = 'linear' | 'relu' | 'relu6';

/** conv [-> batch norm] [-> relu/relu6], run as one fused kernel. */
export interface FusionChain {
  /** The conv first, the chain's last node last; the chain's output stands for the last node. */
  nodes: string[];
  activation: FusedActivation;
}

/** Chains by their head conv's name. */
export type FusionPlan = Map<string, FusionChain>;

/**
 * The rule: every conv whose own activation is relu/relu6 is a one-node chain with that activation.
 * A conv without activation extends through its sole consumer if that is a scale-shift (batch norm),
 * then through the next sole consumer if that is a plain relu/relu6; the chain is kept if it has more
 * than one node or the conv has a bias (bias add fused). Other convs (other activations, or several
 * consumers of the conv output without bias) run unfused.
 */
export function planFusion(nodes: readonly FusionNode[]): FusionPlan {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const consumers = new Map<string, string[]>();
  for (const node of nodes) {
    for (const src of node.inbound) {
      const list = consumers.get(src) ?? [];
      list.push(node.name);
      consumers.set(src, list);
    }
  }
  const soleConsumer = (name: string): FusionNode | undefined => {
    const list = consumers.get(name) ?? [];
    return list.length === 1 ? byName.get(list[0]) : undefined;
  };
  const plan: FusionPlan = new Map();
  for (const node of nodes) {
    const role = node.fusion;
    if (role?.op !== 'conv') continue;
    if (role.activation === 'relu' || role.activation === 'relu6') {
      plan.set(node.name, { nodes: [node.name], activation: role.activation });
      continue;
    }
    if (role.activation !== 'linear') continue;
    const chain = [node.name];
    let activation: FusedActivation = 'linear';
    let next = soleConsumer(node.name);
    if (next?.fusion?.op === 'scale-shift') {
      chain.push(next.name);
      next = soleConsumer(next.name);
    }
    if (next?.fusion?.op === 'relu') {
      chain.push(next.name);
      activation = next.fusion.flavour;
    }
    if (chain.length > 1 || role.bias) plan.set(node.name, { nodes: chain, activation });
  }
  return plan;
}

/**
 * Whether a chain can stand in for its nodes in one evaluation: its last node is evaluated and no
 * node it swallows is itself wanted as an output.
 */
export function chainUsable(chain: FusionChain, evaluated: ReadonlySet<string>, wanted: ReadonlySet<string>): boolean {
  return evaluated.has(chain.nodes[chain.nodes.length - 1]) && chain.nodes.slice(0, -1).every((n) => !wanted.has(n));
}

/** The conv's weights with the batch norm folded in (new tensors when there is a batch norm). */
export function foldChain(conv: FusableConv, bn: FusableScaleShift | undefined): { filter: Tensor4D; bias?: Tensor } {
  if (!bn) return { filter: conv.kernel, bias: conv.bias };
  return tf.tidy(() => {
    const [, , cin, m] = conv.kernel.shape;
    const scale = conv.depthwise ? tf.reshape(bn.scale, [cin, m]) : bn.scale;
    const filter = tf.mul(conv.kernel, scale) as Tensor4D;
    const bias = conv.bias ? tf.add(tf.mul(conv.bias, bn.scale), bn.shift) : tf.clone(bn.shift);
    return { filter, bias };
  });
}

/** Run a folded chain with tfjs's fused conv kernels. */
export function runFused(conv: FusableConv, weights: { filter: Tensor4D; bias?: Tensor }, activation: FusedActivation, x: Tensor4D): Tensor {
  const args = {
    x,
    filter: weights.filter,
    strides: conv.strides,
    pad: conv.padding,
    dataFormat: 'NHWC' as const,
    dilations: conv.dilation,
    bias: weights.bias,
    activation,
  };
  return conv.depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
}
