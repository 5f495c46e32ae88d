/**
 * #/visualize : explain a unit or a class of a model on an image with several attribution methods side by side
 * (visualize.attribute), a unit's top-9 patches over the bundled images (visualize.top9), the unit's feature
 * visualization by optimization forming live (visualize.featureviz) and its dossier, one HTML report
 * (visualize.dossier), and the model's layer list with shapes and receptive fields (visualize.layers, a quick job).
 */
import { api, isFinal, kindInfo, watchJob, type JobInfo, type JsonSchema, type KindInfo } from '../api.js';
import { h, uid } from '../dom.js';
import { busy, follower, placeholder, showApiError } from '../follow.js';
import { imagePicker } from '../picker.js';
import { layerTable, methodName } from '../results.js';
import { schemaForm, type SchemaForm } from '../schema-form.js';
import { errorText, fieldName, fieldRow, pageHeader, showBanner, type FieldRow } from '../ui.js';

/** Fields this page draws itself. */
const CUSTOM = ['model', 'layer', 'unit', 'units', 'class', 'methods', 'image', 'images'];
const FALLBACK_MODELS = ['mobilenet_v2', 'inception_v3', 'vgg16', 'vgg19'];
const FALLBACK_METHODS = ['deconvnet', 'guided', 'gradcam', 'occlusion'];
/** Checked at first: the four the issue compares. */
const DEFAULT_METHODS = ['deconvnet', 'guided', 'gradcam', 'occlusion'];

function enumOf(s: JsonSchema | undefined): string[] | undefined {
  if (!s) return undefined;
  if (s.enum) return s.enum.map(String);
  if (s.items) return enumOf(s.items);
  for (const alt of s.anyOf ?? s.oneOf ?? []) {
    const e = enumOf(alt);
    if (e) return e;
  }
  return undefined;
}

function choicesFrom(s: JsonSchema | undefined, fallback: string[]): string[] {
  return enumOf(s) ?? fallback;
}

export function visualizePage(root: HTMLElement): () => void {
  const stops: (() => void)[] = [];
  const modelSel = h('select', { name: 'model' });
  const modelRow = fieldRow('Model', modelSel, 'the network to look inside');
  const layerIn = h('input', { type: 'text', name: 'layer', list: uid('layers'), spellcheck: false, autocomplete: 'off', placeholder: 'a layer name, or @early, @mid, @late, @last-conv' });
  const layerList = h('datalist', { id: layerIn.getAttribute('list') ?? '' });
  const layerRow = fieldRow('Layer', layerIn, 'type a name or pick one in the layer list below; roles (@mid...) work too');
  const targetName = uid('target');
  const unitRadio = h('input', { type: 'radio', name: targetName, value: 'unit', checked: true, id: uid('t') });
  const classRadio = h('input', { type: 'radio', name: targetName, value: 'class', id: uid('t') });
  const unitIn = h('input', { type: 'text', name: 'unit', value: 'strongest', spellcheck: false, placeholder: 'N or strongest' });
  const unitRow = fieldRow('Unit (channel)', unitIn, 'a channel number of the layer, or "strongest": the one that fires most on this image');
  const classIn = h('input', { type: 'number', name: 'class', min: 0, step: 1, value: 0, disabled: true });
  const classRow = fieldRow('Class', classIn, "an output of the model's head (explains the class instead of a unit)");
  const targetBox = h(
    'fieldset',
    { class: 'target' },
    h('legend', {}, 'Explain'),
    h('div', { class: 'radio-row' }, h('label', { for: unitRadio.id }, unitRadio, ' a unit of the layer'), h('label', { for: classRadio.id }, classRadio, ' a class')),
    unitRow.el,
    classRow.el,
  );
  const syncTarget = () => {
    unitIn.disabled = !unitRadio.checked;
    classIn.disabled = !classRadio.checked;
    unitRow.el.hidden = !unitRadio.checked;
    classRow.el.hidden = !classRadio.checked;
  };
  unitRadio.addEventListener('change', syncTarget);
  classRadio.addEventListener('change', syncTarget);
  syncTarget();

  const methodsBox = h('fieldset', { class: 'methods' }, h('legend', {}, 'Methods'));
  const methodsErr = h('p', { class: 'field-error', hidden: true });
  const image = imagePicker({ label: 'Image', set: 'content', name: 'image', initial: 'sample:content/dog.jpg' });
  const moreSlot = h('div', {});
  const run = h('button', { type: 'submit', class: 'primary', 'data-testid': 'run-attribution' }, 'Run');
  const top9Btn = h('button', { type: 'button', class: 'secondary', 'data-testid': 'run-top9' }, 'Top-9 of this unit');
  const form = h(
    'form',
    { class: 'tool-form', novalidate: true },
    image.el,
    h('div', { class: 'form-grid' }, modelRow.el, layerRow.el, layerList),
    targetBox,
    methodsBox,
    methodsErr,
    moreSlot,
    h('div', { class: 'actions' }, run, top9Btn),
  );
  const output = h('div', { class: 'tool-output' }, placeholder('Choose an image, a layer and a unit, then Run: each method’s map appears side by side with its time.'));
  const top9Out = h('div', { class: 'top9-output' });
  const layersOut = h('div', { class: 'layers-output' }, h('p', { class: 'muted' }, 'Loading the layer list…'));

  // Feature visualization: an objective (by default the layer and unit chosen above), the optimization's key
  // settings from the kind's schema, Run; the Unit dossier button runs the whole report for the same unit.
  const objectiveIn = h('input', { type: 'text', name: 'objective', spellcheck: false, autocomplete: 'off', placeholder: 'LAYER:C, LAYER:C@center, class:K, LAYER…' });
  const objectiveRow = fieldRow('Objective', objectiveIn, 'what to maximise: LAYER:C (a channel), LAYER:C@Y,X (a neuron), class:K, LAYER (DeepDream), sums like "2*A:1 + B:3"; follows the layer and unit above until you edit it');
  const fvSlot = h('div', {});
  const fvRun = h('button', { type: 'submit', class: 'primary', 'data-testid': 'run-featureviz' }, 'Run');
  const dossierBtn = h('button', { type: 'button', class: 'secondary', 'data-testid': 'run-dossier', hidden: true }, 'Unit dossier');
  const fvForm = h('form', { class: 'tool-form featureviz-form', novalidate: true }, objectiveRow.el, fvSlot, h('div', { class: 'actions' }, fvRun, dossierBtn));
  const fvOut = h('div', { class: 'featureviz-output' }, placeholder('Run: random noise turns, step by step, into an image the unit responds to most (the objective climbs on the chart). Unit dossier: its top-9 patches, feature visualizations, receptive field and maps in one report.'));
  const fvSection = h(
    'section',
    { class: 'featureviz-section', hidden: true, style: 'margin-top: 2rem' },
    h('h2', {}, 'Feature visualization'),
    h('p', { class: 'muted' }, 'Images made from noise by gradient ascent to excite the unit (Olah, Mordvintsev & Schubert 2017): decorrelated Fourier parameterization, random jitter, scale and rotation; copies kept apart by a diversity term.'),
    h('div', { class: 'tool' }, fvForm, fvOut),
  );
  root.append(
    pageHeader('Visualize', 'What does a unit respond to, and where in the image? Zeiler & Fergus’s deconvnet beside guided backprop, Grad-CAM and occlusion.'),
    h('div', { class: 'tool' }, form, h('div', {}, output, top9Out)),
    fvSection,
    h('section', { class: 'layers-section' }, h('h2', {}, 'Layers'), h('p', { class: 'muted' }, 'Output shape, receptive field and stride of every layer of the chosen model. Pick a layer to explain it.'), layersOut),
  );

  const attribution = follower(output, 'studio.visualize.job');
  const top9 = follower(top9Out, 'studio.visualize.top9');
  const featureviz = follower(fvOut, 'studio.visualize.featureviz', { chartTitle: 'Objective' });
  stops.push(() => attribution.close(), () => top9.close(), () => featureviz.close());
  let attrKind: KindInfo | undefined;
  let top9Kind: KindInfo | undefined;
  let fvKind: KindInfo | undefined;
  let dossierKind: KindInfo | undefined;
  let more: SchemaForm | undefined;
  let fvMore: SchemaForm | undefined;

  /** The objective follows the layer and unit (a channel of the layer; unit 0 while it says "strongest") until edited. */
  let objectiveEdited = false;
  const unitNumber = (): number | undefined => (/^\d+$/.test(unitIn.value.trim()) ? Number(unitIn.value.trim()) : undefined);
  const syncObjective = () => {
    if (!objectiveEdited) objectiveIn.value = `${layerIn.value.trim() || '@mid'}:${unitNumber() ?? 0}`;
  };
  objectiveIn.addEventListener('input', () => {
    objectiveEdited = objectiveIn.value.trim() !== '';
    objectiveRow.error(undefined);
  });
  layerIn.addEventListener('input', syncObjective);
  unitIn.addEventListener('input', syncObjective);

  const errorHandlers = [
    (f: string | undefined, m: string) => (fieldName(f) === 'image' || fieldName(f) === 'images' ? (image.error(m), true) : false),
    (f: string | undefined, m: string) => {
      const rows: Record<string, FieldRow> = { model: modelRow, layer: layerRow, unit: unitRow, units: unitRow, class: classRow };
      const row = rows[fieldName(f) ?? ''];
      if (!row) return false;
      row.error(m);
      return true;
    },
    (f: string | undefined, m: string) => {
      if (fieldName(f) !== 'methods') return false;
      methodsErr.textContent = m;
      methodsErr.hidden = false;
      return true;
    },
    (f: string | undefined, m: string) => more?.showError(f, m) ?? false,
  ];
  const fvErrorHandlers = [
    (f: string | undefined, m: string) => (fieldName(f) === 'objective' ? (objectiveRow.error(m), true) : false),
    (f: string | undefined, m: string) => {
      const rows: Record<string, FieldRow> = { model: modelRow, layer: layerRow, unit: unitRow };
      const row = rows[fieldName(f) ?? ''];
      if (!row) return false;
      row.error(m);
      return true;
    },
    (f: string | undefined, m: string) => fvMore?.showError(f, m) ?? false,
  ];
  const clearErrors = () => {
    for (const r of [modelRow, layerRow, unitRow, classRow]) r.error(undefined);
    methodsErr.hidden = true;
    image.error(undefined);
    more?.clearErrors();
    objectiveRow.error(undefined);
    fvMore?.clearErrors();
  };

  // Layer list: a quick visualize.layers job per model, with a deterministic id so it is computed once.
  let layersStop: (() => void) | undefined;
  const loadLayers = async (model: string) => {
    layersStop?.();
    layersOut.replaceChildren(h('p', { class: 'muted' }, `Listing the layers of ${model}…`));
    try {
      const job = await api.submit('visualize.layers', { model }, `layers-${model.replace(/[^a-zA-Z0-9_-]/g, '_')}`);
      const show = (j: JobInfo) => {
        if (j.status === 'done') {
          const layers = ((j.result as { layers?: Record<string, unknown>[] } | undefined)?.layers ?? []) as Record<string, unknown>[];
          layerList.replaceChildren(...layers.map((l) => h('option', { value: String(l.name) })));
          const draw = () =>
            layersOut.replaceChildren(
              layerTable(layers, (name) => {
                layerIn.value = name;
                layerRow.error(undefined);
                syncObjective();
                draw();
                layerIn.focus();
              }, layerIn.value),
            );
          draw();
        } else if (isFinal(j.status)) {
          layersOut.replaceChildren(h('p', { class: 'job-error', role: 'alert' }, `Could not list the layers of ${model}: ${j.error?.message ?? j.status}`));
        }
      };
      if (isFinal(job.status)) show(job);
      else layersStop = watchJob(job.id, (e) => e.type === 'status' && show(e.job), (m) => showBanner(m));
    } catch (err) {
      layersOut.replaceChildren(h('p', { class: 'job-error', role: 'alert' }, `Could not list the layers of ${model}: ${errorText(err)}`));
    }
  };
  stops.push(() => layersStop?.());

  Promise.all([
    kindInfo('visualize.attribute'),
    kindInfo('visualize.top9').catch(() => undefined),
    kindInfo('visualize.featureviz').catch(() => undefined),
    kindInfo('visualize.dossier').catch(() => undefined),
  ])
    .then(([a, t, fv, d]) => {
      attrKind = a;
      top9Kind = t;
      fvKind = fv;
      dossierKind = d;
      if (!t) top9Btn.hidden = true;
      // The panel is there when the server offers the kind; its fields come from the kind's schema.
      if (fv) {
        // A first try that finishes in seconds on a laptop: 128 px, 128 steps (the schema's defaults are the paper's).
        fvMore = schemaForm(fv.schema, { exclude: ['model', 'objective'], key: ['size', 'steps', 'copies', 'diversity', 'param'], initial: { size: 128, steps: 128 } });
        fvSlot.replaceChildren(fvMore.el);
        fvSection.hidden = false;
        dossierBtn.hidden = !d;
      }
      const props = a.schema.properties ?? {};
      const models = choicesFrom(props.model, FALLBACK_MODELS);
      modelSel.replaceChildren(...models.map((m) => h('option', { value: m }, m)));
      modelSel.value = String(props.model?.default ?? models[0]);
      layerIn.value = String(props.layer?.default ?? '@mid');
      syncObjective();
      if (!props.class) {
        classRadio.disabled = true;
        classRadio.parentElement?.setAttribute('hidden', '');
      }
      const methods = choicesFrom(props.methods, FALLBACK_METHODS);
      // The page opens on the four methods the issue compares (Zeiler & Fergus's deconvnet and occlusion beside
      // guided backprop and Grad-CAM); the schema's default set when the kind lacks any of them.
      const defaults = DEFAULT_METHODS.every((m) => methods.includes(m)) ? DEFAULT_METHODS : Array.isArray(props.methods?.default) ? (props.methods.default as string[]) : methods.slice(0, 4);
      for (const m of methods) {
        const id = uid('m');
        methodsBox.append(h('label', { for: id, class: 'check' }, h('input', { type: 'checkbox', id, name: 'methods', value: m, checked: defaults.includes(m) }), ` ${methodName(m)}`));
      }
      more = schemaForm(a.schema, { exclude: CUSTOM, key: ['size'] , initial: { size: props.size?.default ?? undefined } });
      moreSlot.replaceChildren(more.el);
      void loadLayers(modelSel.value);
    })
    .catch((err) => showBanner(err, 'visualize options'));

  modelSel.addEventListener('change', () => void loadLayers(modelSel.value));

  const targetInput = (): Record<string, unknown> => {
    if (classRadio.checked) return { class: classIn.value === '' ? undefined : Number(classIn.value) };
    const u = unitIn.value.trim();
    return { unit: /^\d+$/.test(u) ? Number(u) : u || undefined };
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void busy(run, 'Starting…', async () => {
      clearErrors();
      try {
        if (!attrKind) throw new Error('the visualize options have not loaded yet');
        const methods = [...methodsBox.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value);
        if (methods.length === 0) throw Object.assign(new Error('tick at least one method'), { field: 'methods' });
        const input: Record<string, unknown> = { ...(more?.values() ?? {}), model: modelSel.value, layer: layerIn.value.trim(), methods, image: image.value(), ...targetInput() };
        attribution.show(await api.submit('visualize.attribute', input));
      } catch (err) {
        showApiError(err, errorHandlers, 'visualize');
      }
    })();
  });

  top9Btn.addEventListener(
    'click',
    busy(top9Btn, 'Starting…', async () => {
      clearErrors();
      try {
        if (!top9Kind) throw new Error('the server has no top-9 job');
        const u = unitIn.value.trim();
        const props = top9Kind.schema.properties ?? {};
        // Unit numbers as given; "strongest" (on one image) becomes the units strongest on average over the set.
        const numbers = /^\d+(\s*,\s*\d+)*$/.test(u) ? u.split(',').map((x) => Number(x.trim())) : undefined;
        const input: Record<string, unknown> = { model: modelSel.value, layer: layerIn.value.trim() };
        if (props.units) input.units = numbers ?? (u === 'strongest' || u === '' ? 'strongest:2' : u);
        else input.unit = numbers?.[0] ?? u;
        if (props.images) input.images = 'bundled';
        const shared = more?.values() ?? {};
        for (const k of ['size', 'weights', 'seed', 'fit']) if (shared[k] !== undefined && props[k]) input[k] = shared[k];
        top9.show(await api.submit('visualize.top9', input));
      } catch (err) {
        showApiError(err, errorHandlers, 'top-9');
      }
    }),
  );

  fvForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void busy(fvRun, 'Starting…', async () => {
      clearErrors();
      try {
        if (!fvKind) throw new Error('the server has no feature visualization job');
        syncObjective();
        const input: Record<string, unknown> = { ...(fvMore?.values() ?? {}), model: modelSel.value, objective: objectiveIn.value.trim() };
        featureviz.show(await api.submit('visualize.featureviz', input));
      } catch (err) {
        showApiError(err, fvErrorHandlers, 'feature visualization');
      }
    })();
  });

  dossierBtn.addEventListener(
    'click',
    busy(dossierBtn, 'Starting…', async () => {
      clearErrors();
      try {
        if (!dossierKind) throw new Error('the server has no dossier job');
        const unit = unitNumber();
        if (unit === undefined) throw Object.assign(new Error('unit: the dossier is about one unit: give its channel number'), { field: 'unit' });
        const props = dossierKind.schema.properties ?? {};
        const input: Record<string, unknown> = { model: modelSel.value, layer: layerIn.value.trim(), unit };
        // The methods ticked above are the report's maps, for the class when one is chosen (else for the unit).
        const methods = [...methodsBox.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value);
        if (methods.length && props.methods) input.methods = methods;
        if (classRadio.checked && props.class && classIn.value !== '') input.class = Number(classIn.value);
        // The feature visualization settings of the form above (size, steps, copies, parameterization, ...) carry over.
        const shared = fvMore?.values() ?? {};
        for (const [k, v] of Object.entries(shared)) if (v !== undefined && props[k] && !(k in input)) input[k] = v;
        featureviz.show(await api.submit('visualize.dossier', input));
      } catch (err) {
        showApiError(err, fvErrorHandlers, 'unit dossier');
      }
    }),
  );

  return () => stops.forEach((s) => s());
}
