/**
 * Per-method timings and faithfulness (deletion / insertion AUC, Petsiuk et al. 2018) of every
 * attribution method on the bundled photos (or one photo) at the model's default size: a table per
 * photo, then the mean over the photos.
 *
 *   node --import=tsx --conditions=@convlab/source tools/bench/attribution-timings.ts [backend] [photo|folder] [model] [class] [steps]
 *   (defaults: wasm, assets/content (all 7 photos), mobilenet_v2, class 2 of the offline head, 32 steps)
 *   CONVLAB_METHODS=a,b limits the methods.
 */
import { initEngine, loadImage } from '@convlab/core';
import { loadModel } from '@convlab/models';
import { collectImageFiles, createMethod, faithfulness, fitImage, METHOD_NAMES, resolveClassIndex, type MethodName } from '@convlab/visualize';

const [backend = 'wasm', photos = 'assets/content', modelName = 'mobilenet_v2', cls = '2', stepsText = '32'] = process.argv.slice(2);
const info = await initEngine({ backend: backend as 'wasm', log: false });
const model = await loadModel(modelName);
const classIndex = resolveClassIndex(model, cls);
const steps = Number(stepsText);
const methods = (process.env.CONVLAB_METHODS ? process.env.CONVLAB_METHODS.split(',') : METHOD_NAMES) as MethodName[];
const [h, w] = model.inputSize;
const files = await collectImageFiles(photos);
console.log(`${modelName} ${w}x${h}, ${info.summary}, ${files.length} photo(s), class ${classIndex} (${model.classNames?.[classIndex] ?? ''}), ${steps} steps per curve`);
const sums = new Map<string, { ms: number; del: number; ins: number; n: number }>();
for (const photo of files) {
  const image = await fitImage(await loadImage(photo), w, h);
  console.log(`\n${photo}\nmethod | ms | deletion AUC (lower better) | insertion AUC (higher better) | notes`);
  for (const name of methods) {
    const map = await createMethod(name, model).attribute(image, { classIndex });
    const f = await faithfulness(model, image, map, undefined, { steps });
    const note = map.params.completeness ? `IG completeness error ${((map.params.completeness as { relativeError: number }).relativeError * 100).toFixed(2)}%` : (map.warnings ?? []).join(' ');
    console.log(`${name} | ${map.ms.toFixed(0)} | ${f.deletion.auc.toFixed(3)} | ${f.insertion.auc.toFixed(3)} | ${note}`);
    const s = sums.get(name) ?? { ms: 0, del: 0, ins: 0, n: 0 };
    sums.set(name, { ms: s.ms + map.ms, del: s.del + f.deletion.auc, ins: s.ins + f.insertion.auc, n: s.n + 1 });
  }
}
console.log(`\nmean over ${files.length} photo(s)\nmethod | ms | deletion AUC (lower better) | insertion AUC (higher better)`);
for (const [name, s] of sums) console.log(`${name} | ${(s.ms / s.n).toFixed(0)} | ${(s.del / s.n).toFixed(3)} | ${(s.ins / s.n).toFixed(3)}`);
