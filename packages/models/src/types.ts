/**
 * The contract every model in the registry fulfils. Apps (deconvnet, style transfer, captioning) only
 * depend on this file's types: weights and their preprocessing travel together (torchvision-style),
 * and named intermediate activations come from `forward`/`taps` (timm features_only-style).
 */
import type { tf } from '@convlab/core';

type Tensor = ReturnType<typeof tf.tensor>;
type Tensor4D = ReturnType<typeof tf.tensor4d>;

export type ModelFamily = 'vgg' | 'mobilenet' | 'inception' | 'resnet' | 'inception_resnet' | 'custom';

/** What a layer does, as far as visualization and receptive-field arithmetic care. */
export type LayerKind =
  | 'input'
  | 'conv'
  | 'depthwise_conv'
  | 'relu' // a ReLU-like activation (relu, relu6) standing as its own layer (ReLU, Activation); a conv or dense
  //          with a fused relu keeps kind 'conv' / 'dense' and says so in LayerInfo.activation
  | 'activation' // other activations (softmax, linear, sigmoid)
  | 'batchnorm'
  | 'maxpool'
  | 'avgpool'
  | 'global_pool'
  | 'pad'
  | 'add'
  | 'concat'
  | 'dense'
  | 'flatten'
  | 'dropout'
  | 'other';

/**
 * A layer's place in the network by depth, for picking layers by role rather than by name (see
 * features.ts for the rule): 'early' (reduction 4), 'mid' (8), 'late' (16), 'last-conv' (the last
 * spatial conv-block output before global pooling / the head).
 */
export type LayerRole = 'early' | 'mid' | 'late' | 'last-conv';

/** timm's FeatureInfo for one layer, at a given input size. */
export interface FeatureInfo {
  name: string;
  aliases: string[];
  className: string;
  kind: LayerKind;
  /** Position in the topological layer order. */
  index: number;
  /** Output channels (last dimension). */
  channels: number;
  /** Nominal stride of the output w.r.t. the input (receptive-field stride); null for non-spatial outputs. */
  reduction: number | null;
  /** Receptive field size in input pixels [h, w] (the whole input and its padding for global layers); null if unknown. */
  receptiveField: [number, number] | null;
  /** Output shape [h, w, c] (or [c] / [n] for flat outputs) at the input size asked for; null if the layer does not fit it (a head at another size). */
  outputShape: number[] | null;
  /** Whether the layer is a conv-block output: a role candidate (see features.ts). */
  blockOutput: boolean;
  /** Roles this layer plays (usually none). */
  roles: LayerRole[];
}

export interface LayerInfo {
  /** Keras layer name (unique in the model), e.g. 'block4_conv2', 'mixed3', 'block_6_expand_relu'. */
  name: string;
  /** Other names accepted for it, e.g. VGG 'conv4_2' for 'block4_conv2'. */
  aliases: string[];
  /** Keras class name, e.g. 'Conv2D'. */
  className: string;
  kind: LayerKind;
  /** Output shape for the model's default input size, batch dimension as null: [null, h, w, c]. */
  outputShape: (number | null)[];
  /** Names of the layers feeding this one ([] for the input layer). */
  inbound: string[];
  /** For conv/pool layers: geometry used by receptive-field arithmetic. */
  kernel?: [number, number];
  strides?: [number, number];
  dilation?: [number, number];
  padding?: 'same' | 'valid' | [[number, number], [number, number]];
  /** Whether the layer's output has passed a ReLU-like nonlinearity (conv with fused relu counts). */
  activation?: string;
}

/**
 * How ReLU-like nonlinearities (relu, relu6, and ReLUs fused into conv layers) behave in the backward
 * pass. 'normal' is ordinary autodiff. 'deconvnet' passes relu(grad) (Zeiler & Fergus), 'guided'
 * passes relu(grad) where the forward input was > 0 (Springenberg et al.). Forward values never change.
 */
export type ReluBackward = 'normal' | 'deconvnet' | 'guided';

/**
 * How conv input gradients are computed. 'auto' (default): with forward convolutions where the backend
 * has no usable kernel (depthwise convs without DepthwiseConv2dNativeBackpropInput, every conv on a
 * stock wasm backend, dilated convs); 'tfjs': tfjs's own gradient kernels (dilated convs still use
 * forward convolutions, tfjs refuses them); 'forward-conv': always forward convolutions.
 */
export type ConvGradientMode = 'auto' | 'forward-conv' | 'tfjs';

/** How the graph executor runs; defaults for a model, each overridable per forward call. */
export interface ExecutorOptions {
  /**
   * Run conv [-> batch norm] [-> relu] chains as one fused tfjs kernel when no gradient is being
   * recorded and no override is set (default true). Outputs agree with the layer-by-layer path to
   * float rounding; false is for comparing against it.
   */
  fusedInference?: boolean;
  /** How conv input gradients are computed (default 'auto'). */
  convGradient?: ConvGradientMode;
  /**
   * Under a gradient tape, run conv [-> batch norm] [-> relu] chains (dense convs, dilation 1, linear or relu)
   * as one fused kernel with frozen weights (ops.ts frozenConv2d): the image gets its exact gradient, the
   * weights none. For work that differentiates with respect to the input only (style transfer); default
   * false, so training and weight gradients are never silently cut. Off with an override or a relu rule.
   */
  frozenWeights?: boolean;
}

export interface ForwardOptions extends ExecutorOptions {
  /** Layer names or aliases to return. The graph is evaluated only as far as these need. */
  outputs: string[];
  relu?: ReluBackward;
  /**
   * Replace a layer's output during the forward pass (used by Adebayo's sanity check or occlusion
   * of feature maps). Called with the layer name and its computed output; return a tensor of the
   * same shape to use instead, or undefined to keep it.
   */
  override?: (layer: string, output: Tensor) => Tensor | undefined;
  /** Replace every max pooling by average pooling of the same geometry (Gatys et al. 2016 prefer it). */
  pool?: 'max' | 'avg';
}

export interface WeightsInfo {
  /** Where the weights came from: a file path, a URL, or 'random'. */
  source: string;
  /** Short human description, e.g. 'nsfwjs 4.4.0 MobileNetV2 trunk (ImageNet, fine-tuned), uint8-quantized'. */
  description: string;
  quantized: boolean;
  sha256?: string;
  /**
   * Which weights, for run records: 'imagenet' (a Keras-applications ImageNet file, cached or given by
   * path under its published name), 'nsfwjs' (the offline default of mobilenet_v2 / inception_v3),
   * 'random', or 'file' (any other file).
   */
  kind?: 'imagenet' | 'nsfwjs' | 'random' | 'file';
  /** For 'imagenet': 'top' (with the 1000-class classifier) or 'notop' (trunk). */
  variant?: 'top' | 'notop';
}

export interface ConvNet {
  /** Registry name, e.g. 'mobilenet_v2'. */
  name: string;
  family: ModelFamily;
  /** Default (native) input size [height, width]. */
  inputSize: [number, number];
  /** Smallest input size the trunk accepts (the spatial map stays >= 1 at the last layer). */
  minInputSize: number;
  /** True if the architecture accepts any size >= minInputSize (fully convolutional trunk). */
  anySize: boolean;
  weights: WeightsInfo;
  /** The underlying Keras-style model (trunk, classifier head included if the weights have one). */
  model: import('@tensorflow/tfjs-layers').LayersModel;
  /** Every layer in topological order. */
  layers: LayerInfo[];
  /** Class labels of the model's own head, if it has one (nsfwjs: 5 classes). */
  classNames?: string[];
  /** The name of the head's output layer (logits or softmax), if there is a head. */
  headLayer?: string;

  /** RGB float images 0..255, [h, w, 3] or [n, h, w, 3] -> the network's input space [n, h, w, 3]. */
  preprocess(images: Tensor): Tensor4D;
  /** Inverse of preprocess: network input space -> RGB 0..255 (unclipped). */
  deprocess(x: Tensor4D): Tensor4D;
  /**
   * Canonical layer name for a name, an alias, or a role written '@early', '@mid', '@late',
   * '@last-conv'; throws a ConvlabError listing valid names if unknown.
   */
  resolveLayer(nameOrAlias: string): string;
  layer(nameOrAlias: string): LayerInfo;
  /**
   * Run the network on preprocessed input with plain differentiable tf ops (no tfjs-layers fused
   * kernels), so tf.grad w.r.t. the input works on every backend, and return the named activations.
   * Call inside tf.tidy / tf.grad as usual; tensors returned are owned by the caller.
   */
  forward(x: Tensor4D, options: ForwardOptions): Record<string, Tensor>;
  /** Convenience: image (RGB 0..255) -> preprocess -> forward -> named activations. */
  taps(names: string[], options?: Omit<ForwardOptions, 'outputs'>): (images: Tensor) => Record<string, Tensor>;
  /** Output shape [h, w, c] of a layer for a given input size. */
  outputShapeFor(nameOrAlias: string, inputSize: [number, number]): number[];
  /**
   * timm-style feature info for every layer: channels, reduction, receptive field, output shape at
   * `inputSize` (default: the model's inputSize), kind, and the roles of the role layers.
   */
  featureInfo(inputSize?: [number, number]): FeatureInfo[];
  /** The layer playing a role (early, mid, late, last-conv); `resolveLayer('@late')` accepts roles too. */
  layerForRole(role: LayerRole): string;
  /** Every role with its layer. */
  layerRoles(): Record<LayerRole, string>;
  /** Free weights. */
  dispose(): void;
}

export interface LoadModelOptions {
  /**
   * Weights: 'default' (bundled offline weights, or the cached download), 'imagenet' (the cached
   * Keras-applications ImageNet file: the classifier if pulled, else the trunk), 'random' (architecture
   * with seeded random init; for tests and random-feature style transfer), or a path to a Keras .h5 file
   * or a tfjs layers model folder / model.json.
   */
  weights?: 'default' | 'imagenet' | 'random' | string;
  /** Seed for 'random' weights. */
  seed?: number;
  /** For VGG: build only up to this layer (e.g. 'block5_conv1') to save memory and time. */
  upTo?: string;
  /** Keep the classifier head when the weights have one (default true). */
  includeHead?: boolean;
  /** Executor defaults for this model (fusion on/off, conv gradient mode); each forward call may override them. */
  executor?: ExecutorOptions;
  /** For 'custom' models: how images map to the network's input (default 'tf', i.e. [-1, 1]). */
  preprocessing?: 'caffe' | 'tf' | 'torch' | 'unit' | 'none' | import('./convnet.js').Preprocessing;
}

/**
 * What a model expects of its input for a choice of weights (torchvision's weights.transforms()):
 * the preprocessing of RGB 0..255 images, the native size, and which other sizes work.
 */
export interface InputTransforms {
  /** Keras preprocess_input mode: 'caffe' (BGR minus the ImageNet mean), 'tf' ([-1, 1]), 'torch', or 'unit' (x / 255, nsfwjs). */
  preprocessing: import('./convnet.js').Preprocessing;
  /** Native size [h, w]: what the weights were trained at. */
  inputSize: [number, number];
  /** Smallest size the trunk accepts. */
  minInputSize: number;
  /** Whether the trunk takes any size >= minInputSize. */
  anySize: boolean;
  /**
   * Whether the classifier works at other sizes too: true after global average pooling (ResNet,
   * Inception, MobileNet: any size, most accurate near the native one), false for VGG's flatten +
   * fully-connected head (native size only).
   */
  headAnySize: boolean;
}

export interface ModelEntry {
  name: string;
  family: ModelFamily;
  description: string;
  inputSize: [number, number];
  /** Preprocessing and input-size rules for a weights choice ('default' when omitted). */
  transforms?(weights?: string): InputTransforms;
  /** Layer names a user typically taps (block outputs by depth; the head last). */
  tapLayers?: string[];
  /** Whether weights are available on this machine without a download. */
  weightsAvailable(): Promise<{ available: boolean; where: string }>;
  load(options: LoadModelOptions): Promise<ConvNet>;
}
