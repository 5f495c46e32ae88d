/**
 * The options of every captioning call, declared once. Each command of `convlab-caption` is one library
 * call (runExtract, runTrain, runEval, runPredict, runExport, runSynth) whose options are the zod schema of
 * the same name below: types, defaults, ranges and a one-line description per field. The CLI's flags and
 * `--help` are generated from these schemas (`addOptions`), the calls validate with
 * `parseOptions(schema, options, 'code')`, and the run record's `parameters` are the parsed options.
 *
 * Ranges are the field-tested ones (apps/captioning/README.md, "Field use"). Rules that tie two fields
 * together (--samples only with --objective scst, --size from the encoder's minimum, --seed only for
 * random-conv, ...) are checked by the calls, before any input is read.
 */
import { z } from '@convlab/core/light';
import { DEFAULT_MODEL } from './shipped-models.js';

export const BACKENDS = ['auto', 'tensorflow', 'native', 'wasm', 'cpu'] as const;
export const DECODERS = ['show-tell', 'show-attend-tell'] as const;
/** Splits a command can name (`unused` images of a Karpathy file are never trained or scored). */
export const SPLITS = ['train', 'val', 'test', 'restval'] as const;
/** Encoders `extract` can use, with the smallest input side each accepts. */
export const ENCODER_MIN_SIZE = {
  mobilenet_v2: 32,
  inception_v3: 75,
  vgg16: 32,
  vgg19: 32,
  resnet50: 32,
  resnet101: 32,
  resnet152: 32,
  inception_resnet_v2: 75,
  'random-conv': 16,
} as const;
export type EncoderName = keyof typeof ENCODER_MIN_SIZE;
export const ENCODERS = Object.keys(ENCODER_MIN_SIZE) as [EncoderName, ...EncoderName[]];

/**
 * The input side each encoder was trained at (its weights' native size, as @convlab/models' `modelTransforms`
 * gives it; a test checks they agree): extract's default --size. Declared here so that this module loads no tfjs.
 */
export const ENCODER_NATIVE_SIZE: Record<EncoderName, number> = {
  mobilenet_v2: 224,
  inception_v3: 299,
  vgg16: 224,
  vgg19: 224,
  resnet50: 224,
  resnet101: 224,
  resnet152: 224,
  inception_resnet_v2: 299,
  'random-conv': 224,
};

/**
 * The default grid layer of each convnet encoder: the last conv block before global pooling (what Keras's
 * `avg_pool` averages, so `--pool mean` gives the classifier's own feature vector), except for InceptionV3 with
 * its offline nsfwjs weights, whose ImageNet-only layers end at mixed5: there the shipped models' `mixed6`.
 * VGG: conv5_3 / conv5_4 before the last max pool, the 14x14x512 grid of Xu et al. 2015.
 */
export function defaultEncoderLayer(model: Exclude<EncoderName, 'random-conv'>, weights: string | undefined): string {
  switch (model) {
    case 'mobilenet_v2':
      return 'out_relu';
    case 'inception_v3':
      return weights === undefined || weights === 'default' || weights === 'random' ? 'mixed6' : 'mixed10';
    case 'vgg16':
      return 'block5_conv3';
    case 'vgg19':
      return 'block5_conv4';
    case 'inception_resnet_v2':
      return 'conv_7b_ac';
    default:
      return 'conv5_block3_out'; // resnet50 / 101 / 152: the last block of stage 5
  }
}

/**
 * An integer in [min, max]; without max, unbounded above. (zod's `.int()` also caps at 2^53 - 1, which the
 * generated help and messages would print as the range's upper bound; multipleOf(1) is an integer without it.)
 */
const int = (min: number, max?: number) => (max === undefined ? z.number().min(min).multipleOf(1) : z.number().int().min(min).max(max));
const SEED = int(0, 2 ** 31 - 1);
const path = (description: string, placeholder = 'PATH') => z.string().min(1, 'must not be empty').meta({ description, placeholder });

const backend = z.enum(BACKENDS).optional().meta({ description: 'compute backend (default: CONVLAB_BACKEND, else auto: the fastest available)' });

/**
 * Which dataset: a Flickr8k/30k folder (--data), a Karpathy dataset_*.json (--karpathy with --images), or a
 * COCO captions_*.json (--coco with --images). Exactly one of data, karpathy, coco.
 */
export const DatasetOptions = z.object({
  data: path('dataset folder with the Flickr8k/30k token and split files', 'DIR').optional(),
  karpathy: path('Karpathy dataset_*.json (with --images)', 'FILE').optional(),
  coco: path('COCO captions_*.json (with --images)', 'FILE').optional(),
  images: path('image folder of --karpathy or --coco (with --data: default <data>/images)', 'DIR').optional(),
  split: z.enum(SPLITS).optional().meta({ description: 'with --coco: the split its images belong to (default train)' }),
});
export type DatasetOptions = z.output<typeof DatasetOptions>;

/** Beam-search decoding, shared by predict and eval (and validated the same way by captionImages). */
export const DecodingOptions = z.object({
  beam: int(1, 50).default(3).describe('beam width (1 = greedy)'),
  maxLength: int(1, 100).default(20).describe('longest caption in words'),
  lengthPenalty: z.number().min(0).max(5).optional().describe("beam-search length penalty (default: the model's stored value, else 0)"),
  blockTrigrams: z.boolean().default(false).describe('never repeat a word trigram within a caption'),
});
export type DecodingOptions = z.output<typeof DecodingOptions>;

export const ExtractOptions = z.object({
  ...DatasetOptions.shape,
  features: path('feature cache folder to write (an interrupted run resumes)', 'DIR'),
  grid: z.boolean().default(false).describe('also store the spatial grid (float16), needed by the attention decoder'),
  model: z.enum(ENCODERS).default('mobilenet_v2').describe('encoder network (random-conv: a fixed seeded conv net for synthetic scenes)'),
  weights: z
    .string()
    .min(1, 'must not be empty')
    .optional()
    .meta({
      description:
        "encoder weights: imagenet (Keras's ImageNet file, `convlab-models pull MODEL`), a Keras .h5 path, or random (untrained; tests, timing). Default: mobilenet_v2/inception_v3 the offline nsfwjs trunk, vgg the cached notop file, resnet*/inception_resnet_v2 imagenet",
      placeholder: 'imagenet|FILE|random',
    }),
  layer: z
    .string()
    .min(1, 'must not be empty')
    .optional()
    .meta({ description: 'layer whose output is the grid (default per model: out_relu, mixed6 (nsfwjs) / mixed10 (imagenet), block5_conv3/4, conv5_block3_out, conv_7b_ac; not for random-conv)', placeholder: 'LAYER' }),
  pooledLayers: z
    .array(z.string().min(1, 'must not be empty'))
    .min(1)
    .optional()
    .meta({ description: 'layers whose pooled vectors are concatenated, e.g. mixed6,mixed7 (default: --layer)', placeholder: 'LAYERS' }),
  pool: z.enum(['mean', 'mean+max']).optional().describe('how each pooled vector is formed from its grid (default mean)'),
  gridPool: int(1, 64).optional().describe('average-pool the stored grid with this window, e.g. 2: 17x17 -> 9x9 (default 1)'),
  size: int(16, 2048)
    .optional()
    .describe("input side in pixels (default: the encoder's native size, 299 for InceptionV3 and Inception-ResNet-v2, else 224), from its minimum (Inception* 75, random-conv 16, else 32)"),
  batch: int(1, 256).default(8).describe('images per forward pass'),
  seed: SEED.optional().describe('seed of the random-conv encoder (default 7) or of --weights random (default 0)'),
  backend,
});
export type ExtractOptions = z.output<typeof ExtractOptions>;

export const TrainOptions = z.object({
  ...DatasetOptions.shape,
  features: path('feature cache written by extract', 'DIR'),
  out: path('run folder: checkpoints (best/, last/), history, plots, run-record.json', 'DIR'),
  decoder: z.enum(DECODERS).optional().describe('decoder (default show-tell; a resumed or --init run keeps its own)'),
  objective: z.enum(['xe', 'scst']).default('xe').describe('xe: cross-entropy on the references; scst: self-critical fine-tuning on CIDEr-D (needs --init)'),
  init: path('start from this trained model folder, e.g. <run>/best (fine-tuning, SCST)', 'DIR').optional(),
  samples: int(2, 64).default(5).describe('SCST: captions sampled per image (the baseline is the mean of the others)'),
  epochs: int(1, 10000).default(10).describe('epochs to train (a resumed run counts the finished ones)'),
  batch: int(1).default(64).describe('captions per batch (SCST: images per batch, default 32)'),
  lr: z.number().gt(0).max(1).default(2e-3).describe('Adam learning rate (SCST default 5e-5)'),
  lrDecay: z.number().gt(0).max(1).default(0.8).describe('multiply the learning rate by this every --lr-decay-every epochs (SCST default 1)'),
  lrDecayEvery: int(1, 10000).default(1).describe('epochs between learning-rate decays'),
  hidden: int(1, 4096).default(256).describe('LSTM units'),
  embed: int(1, 4096).default(256).describe('word embedding size'),
  attention: int(1, 4096).optional().describe('attention MLP size, show-attend-tell only (default: --hidden)'),
  dropout: z.number().min(0).max(0.95).default(0.3).describe('dropout rate'),
  minCount: int(1).default(5).describe('words seen fewer times in the training captions become <unk>'),
  maxLength: int(1, 100).default(16).describe('longest training caption in words (longer ones are cut); also the validation length'),
  patience: int(0).default(3).describe('stop after this many epochs without a better validation score (0: never stop early)'),
  valLimit: int(1).default(500).describe('validate (greedy) on at most this many val images per epoch'),
  metric: z.enum(['CIDEr-D', 'BLEU-4']).default('CIDEr-D').describe('validation metric that picks the best epoch'),
  seed: SEED.default(1).describe('seed of the initial weights, batch order and dropout masks'),
  backend,
});
export type TrainOptions = z.output<typeof TrainOptions>;

/** What `--objective scst` changes when the field is not given (fine-tuning wants small steps). */
export const SCST_DEFAULTS = { batch: 32, lr: 5e-5, lrDecay: 1 } as const;

export const EvalOptions = z.object({
  model: z.string().min(1).default(DEFAULT_MODEL).meta({ description: 'caption model: a shipped name (show-attend-tell, show-tell) or a folder written by train/export', placeholder: 'NAME|DIR' }),
  ...DatasetOptions.shape,
  split: z.enum(SPLITS).default('test').describe('split to caption and score'),
  features: path('feature cache of the dataset, made with the encoder the model was trained on', 'DIR'),
  ...DecodingOptions.shape,
  out: path('write the scores and captions (in the run record) to this .json file', 'FILE').optional(),
  backend,
});
export type EvalOptions = z.output<typeof EvalOptions>;

export const PredictOptions = z.object({
  images: z.array(z.string().min(1, 'must not be empty')).describe('image files or folders (folders are read for their images, links followed)'),
  model: z.string().min(1).default(DEFAULT_MODEL).meta({ description: 'caption model: a shipped name (show-attend-tell, show-tell) or a folder written by train/export', placeholder: 'NAME|DIR' }),
  ...DecodingOptions.shape,
  attentionMaps: path('write per-word attention strips (attention models) and the run record into this folder', 'DIR').optional(),
  backend,
});
export type PredictOptions = z.output<typeof PredictOptions>;

export const ExportOptions = z.object({
  from: z
    .array(z.string().min(1, 'must not be empty'))
    .min(1)
    .meta({ description: 'trained model folder, e.g. runs/x/best (several, comma-separated: an ensemble)', placeholder: 'DIRS' }),
  to: path('destination folder (replaced as a whole; only an earlier export is overwritten)', 'DIR'),
  lengthPenalty: z.number().min(0).max(5).optional().describe('store this beam-search length penalty as the model default for predict and eval'),
  backend: backend.describe('compute backend (default cpu)'),
});
export type ExportOptions = z.output<typeof ExportOptions>;

export const SynthOptions = z.object({
  out: path('dataset folder to write: images/ and dataset_synthetic.json (Karpathy format)', 'DIR'),
  count: int(1, 1_000_000).default(1000).describe('scenes (80% train, 10% val, 10% test)'),
  seed: SEED.default(1).describe('seed of the scenes'),
  size: int(16, 1024).default(64).describe('image side in pixels'),
  format: z.enum(['png', 'jpg']).default('png').describe('image format (jpg exercises the path real photos take)'),
});
export type SynthOptions = z.output<typeof SynthOptions>;
