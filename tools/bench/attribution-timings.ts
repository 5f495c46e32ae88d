/**
 * Per-method timings and faithfulness (deletion / insertion AUC, Petsiuk et al. 2018) of every
 * attribution method on the bundled photos (or one photo) at the model's default size: a table per
 * photo, then the mean over the photos and one markdown table (deletion / insertion per photo).
 *
 *   node --import=tsx --conditions=@convlab/source tools/bench/attribution-timings.ts [backend] [photo|folder|a.jpg,b.jpg] [model] [class] [steps]
 *   (defaults: wasm, assets/content (all 7 photos), mobilenet_v2, class 2 of the offline head, 32 steps)
 *
 * Environment:
 *   CONVLAB_METHODS=a,b            limit the methods (default: all of them)
 *   CONVLAB_IG_STEPS, CONVLAB_IG_RULE             Integrated Gradients (default: the method's defaults)
 *   CONVLAB_OCCLUSION_WINDOW, CONVLAB_OCCLUSION_STRIDE   captum-style occlusion (default: the method's)
 *   CONVLAB_SCORECAM_BATCH         masked images per Score-CAM forward pass (default: the method's)
 *   CONVLAB_SCORECAM_CHANNELS=N    Score-CAM on the N channels whose maps vary most (default: all)
 *   CONVLAB_IG_SWEEP=16,32,64,128  instead of the table: Integrated Gradients' completeness error
 *     (|sum of attributions - (F(x) - F(baseline))| / |F(x) - F(baseline)|) of every quadrature rule
 *     at each of these step counts, on each photo (black baseline, the class logit). The path
 *     derivative is computed once at the union of all rules' points (pathDerivatives), so one
 *     photo costs about as many gradients as the rules have distinct points together.
 */
import { initEngine, loadImage, tf, type Tensor4D } from '@convlab/core';
import { loadModel } from '@convlab/models';
import {
  collectImageFiles,
  createMethod,
  faithfulness,
  fitImage,
  IG_RULES,
  METHOD_NAMES,
  METHOD_TITLES,
  pathDerivatives,
  pathPoints,
  resolveClassIndex,
  resolveTarget,
  toBatch,
  type IgRule,
  type MethodName,
  type MethodOptions,
} from '@convlab/visualize';

const [backend = 'wasm', photos = 'assets/content', modelName = 'mobilenet_v2', cls = '2', stepsText = '32'] = process.argv.slice(2);
const info = await initEngine({ backend: backend as 'wasm', log: false });
const model = await loadModel(modelName);
const classIndex = resolveClassIndex(model, cls);
const steps = Number(stepsText);
const [h, w] = model.inputSize;
const files = (await Promise.all(photos.split(',').map((p) => collectImageFiles(p)))).flat();
const env = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);

if (process.env.CONVLAB_IG_SWEEP) {
  const stepCounts = process.env.CONVLAB_IG_SWEEP.split(',').map(Number);
  const rules = (process.env.CONVLAB_IG_RULE ? process.env.CONVLAB_IG_RULE.split(',') : IG_RULES) as IgRule[];
  const key = (a: number) => a.toFixed(12);
  const points = new Map<string, number>();
  for (const rule of rules) for (const m of stepCounts) for (const a of pathPoints(m, rule).alphas) points.set(key(a), a);
  const alphas = [...points.values()].sort((a, b) => a - b);
  console.log(`${modelName} ${w}x${h}, ${info.summary}, class ${classIndex} (${model.classNames?.[classIndex] ?? ''}), black baseline; ${alphas.length} distinct path points per photo`);
  const errors = new Map<string, number[]>();
  for (const photo of files) {
    const t0 = performance.now();
    const image = toBatch(await fitImage(await loadImage(photo), w, h)) as Tensor4D;
    const target = resolveTarget(model, image, { classIndex });
    const { derivatives, scoreInput, scoreBaseline } = await pathDerivatives(model, image, target, alphas, { baseline: 'black' });
    image.dispose();
    const at = new Map(alphas.map((a, i) => [key(a), derivatives[i]]));
    const delta = scoreInput - scoreBaseline;
    console.log(`\n${photo}: F(x) = ${scoreInput.toFixed(4)}, F(black) = ${scoreBaseline.toFixed(4)}, delta = ${delta.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    console.log(`rule | ${stepCounts.join(' | ')}`);
    for (const rule of rules) {
      const row = stepCounts.map((m) => {
        const { alphas: a, weights } = pathPoints(m, rule);
        let sum = 0;
        a.forEach((x, k) => (sum += weights[k] * (at.get(key(x)) as number)));
        const err = Math.abs(sum - delta) / Math.max(Math.abs(delta), 1e-6);
        errors.set(`${rule}|${m}`, [...(errors.get(`${rule}|${m}`) ?? []), err]);
        return `${(err * 100).toFixed(2)}%`;
      });
      console.log(`${rule} | ${row.join(' | ')}`);
    }
  }
  console.log(`\nmean / max completeness error over ${files.length} photo(s)\nrule | ${stepCounts.join(' | ')}`);
  for (const rule of rules) {
    const row = stepCounts.map((m) => {
      const e = errors.get(`${rule}|${m}`) as number[];
      return `${((e.reduce((s, v) => s + v, 0) / e.length) * 100).toFixed(1)}% / ${(Math.max(...e) * 100).toFixed(1)}%`;
    });
    console.log(`${rule} | ${row.join(' | ')}`);
  }
  process.exit(0);
}

const methods = (process.env.CONVLAB_METHODS ? process.env.CONVLAB_METHODS.split(',') : METHOD_NAMES) as MethodName[];
const options: MethodOptions = {
  integratedGradients: { ...(env('CONVLAB_IG_STEPS') ? { steps: env('CONVLAB_IG_STEPS') } : {}), ...(process.env.CONVLAB_IG_RULE ? { rule: process.env.CONVLAB_IG_RULE as IgRule } : {}) },
  occlusion: { window: env('CONVLAB_OCCLUSION_WINDOW'), stride: env('CONVLAB_OCCLUSION_STRIDE') },
  scorecam: { batchSize: env('CONVLAB_SCORECAM_BATCH'), maxChannels: env('CONVLAB_SCORECAM_CHANNELS') },
};
console.log(
  `${modelName} ${w}x${h}, ${info.summary}, ${files.length} photo(s), class ${classIndex} (${model.classNames?.[classIndex] ?? ''}), ${steps} steps per curve; method options ${JSON.stringify(options)}`,
);
const sums = new Map<string, { ms: number; fms: number; del: number; ins: number; n: number }>();
const cells = new Map<string, string[]>();
const started = performance.now();
for (const photo of files) {
  const image = await fitImage(await loadImage(photo), w, h);
  console.log(`\n${photo}\nmethod | map ms | deletion AUC (lower better) | insertion AUC (higher better) | faithfulness ms | notes`);
  for (const name of methods) {
    const map = await createMethod(name, model, options).attribute(image, { classIndex });
    const f = await faithfulness(model, image, map, undefined, { steps });
    const c = map.params.completeness as { relativeError: number } | undefined;
    const note = [c ? `IG completeness error ${(c.relativeError * 100).toFixed(2)}% at ${String(map.params.steps)} steps (${String(map.params.gradients)} gradients)` : '', map.params.maskedChannels !== undefined ? `${String(map.params.maskedChannels)} of ${String(map.params.channels)} channels` : '', ...(map.warnings ?? [])].filter(Boolean).join('; ');
    console.log(`${name} | ${map.ms.toFixed(0)} | ${f.deletion.auc.toFixed(3)} | ${f.insertion.auc.toFixed(3)} | ${(f.seconds * 1000).toFixed(0)} | ${note}`);
    const s = sums.get(name) ?? { ms: 0, fms: 0, del: 0, ins: 0, n: 0 };
    sums.set(name, { ms: s.ms + map.ms, fms: s.fms + f.seconds * 1000, del: s.del + f.deletion.auc, ins: s.ins + f.insertion.auc, n: s.n + 1 });
    cells.set(name, [...(cells.get(name) ?? []), `${f.deletion.auc.toFixed(3)} / ${f.insertion.auc.toFixed(3)}`]);
    await new Promise((r) => setImmediate(r));
  }
  console.log(`(${((performance.now() - started) / 60000).toFixed(1)} min so far, ${tf.memory().numTensors} tensors)`);
}
console.log(`\nmean over ${files.length} photo(s)\nmethod | map ms | deletion AUC (lower better) | insertion AUC (higher better) | faithfulness ms`);
for (const [name, s] of sums) console.log(`${name} | ${(s.ms / s.n).toFixed(0)} | ${(s.del / s.n).toFixed(3)} | ${(s.ins / s.n).toFixed(3)} | ${(s.fms / s.n).toFixed(0)}`);
const names = files.map((f) => f.replace(/^.*\//, '').replace(/\.[^.]+$/, ''));
console.log(`\nmarkdown (deletion / insertion AUC per photo; mean; mean ms per map)\n\n| method | ${names.join(' | ')} | mean | ms |\n|---|${names.map(() => '---|').join('')}---|---:|`);
for (const [name, s] of sums) {
  console.log(`| ${METHOD_TITLES[name as MethodName] ?? name} | ${(cells.get(name) ?? []).join(' | ')} | ${(s.del / s.n).toFixed(3)} / ${(s.ins / s.n).toFixed(3)} | ${(s.ms / s.n).toFixed(0)} |`);
}
