/**
 * Per-method timings and faithfulness (deletion / insertion AUC, Petsiuk et al. 2018) of every
 * attribution method on a bundled photo at the model's default size.
 *
 *   node --import=tsx --conditions=@convlab/source tools/bench/attribution-timings.ts [backend] [photo] [model]
 *   (defaults: wasm, assets/content/dog.jpg, mobilenet_v2; class 2 of the offline head)
 */
import { initEngine, loadImage } from '@convlab/core';
import { loadModel } from '@convlab/models';
import { createMethod, faithfulness, fitImage, METHOD_NAMES } from '@convlab/visualize';

const [backend = 'wasm', photo = 'assets/content/dog.jpg', modelName = 'mobilenet_v2'] = process.argv.slice(2);
const info = await initEngine({ backend: backend as 'wasm', log: false });
const model = await loadModel(modelName);
const [h, w] = model.inputSize;
const image = await fitImage(await loadImage(photo), w, h);
console.log(`${modelName} ${w}x${h}, ${info.summary}, ${photo}, class 2`);
console.log('method | ms | deletion AUC (lower better) | insertion AUC (higher better) | notes');
for (const name of METHOD_NAMES) {
  const map = await createMethod(name, model).attribute(image, { classIndex: 2 });
  const f = await faithfulness(model, image, map, undefined, { steps: 32 });
  const note = map.params.completeness ? `IG completeness error ${((map.params.completeness as { relativeError: number }).relativeError * 100).toFixed(2)}%` : (map.warnings ?? []).join(' ');
  console.log(`${name} | ${map.ms.toFixed(0)} | ${f.deletion.auc.toFixed(3)} | ${f.insertion.auc.toFixed(3)} | ${note}`);
}
