/** Checkpoints (lib/model/checkpoint.ts) and the weights-file format (lib/model/weights-file.ts). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildDetector } from '../../lib/model/detector';
import { loadDetector, loadDetectorWeights, readCheckpointMeta, rebuildableConfig, saveDetector } from '../../lib/model/checkpoint';
import { MANIFEST_NAME, oihwToHwio, readWeights, writeWeights } from '../../lib/model/weights-file';
import { UserError } from '../../lib/util/errors';
import { pseudoRandom, silent, tinyConfig, useCpu, values } from './helpers';

let tmp = '';
before(async () => {
  await useCpu();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'metaanchor-model-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('save / load round trip gives bit-identical outputs (fresh model, loadDetector)', () => {
  const cfg = tinyConfig({ method: 'metaanchor', generator: 'dependent', w2InitStd: 0.01 });
  const det = buildDetector(cfg, { seed: 1, ...silent });
  const images = tf.tensor4d(pseudoRandom(2 * 40 * 48 * 3, 5, 0, 255), [2, 40, 48, 3]);
  const b = tf.tensor2d([
    [0.2, -0.4],
    [1, 0.5],
  ]);
  const ref = det.forward(images, b);
  const dir = path.join(tmp, 'ckpt');
  saveDetector(det, dir, { step: 7 });
  const bins = fs.readdirSync(dir).filter((f) => f.endsWith('.bin'));
  assert.equal(bins.length, 1);
  assert.match(bins[0], /^weights-[0-9a-f]{16}\.bin$/);
  assert.deepEqual(readCheckpointMeta(dir).extra, { step: 7 });

  const other = buildDetector(cfg, { seed: 2, ...silent });
  const before = other.forward(images, b);
  assert.notDeepEqual(Array.from(values(before.clsLogits)), Array.from(values(ref.clsLogits)));
  loadDetectorWeights(other, dir);
  const after = other.forward(images, b);
  assert.deepEqual(Array.from(values(after.clsLogits)), Array.from(values(ref.clsLogits)));
  assert.deepEqual(Array.from(values(after.boxDeltas)), Array.from(values(ref.boxDeltas)));

  const rebuilt = loadDetector(dir);
  // The saved config has the backbone's norm and frozen stages resolved, so no ImageNet file is needed.
  assert.deepEqual(rebuilt.config, rebuildableConfig(det.config));
  assert.equal(rebuilt.config.backboneNorm, 'gn');
  const again = rebuilt.forward(images, b);
  assert.deepEqual(Array.from(values(again.clsLogits)), Array.from(values(ref.clsLogits)));
  // The same checkpoint evaluated with the basis formulation (inference over many anchors).
  const viaBasis = loadDetector(dir, { convMode: 'basis' }).forward(images, b);
  const d = tf.max(tf.abs(tf.sub(viaBasis.clsLogits, ref.clsLogits))).dataSync()[0];
  assert.ok(d < 1e-4, `basis vs direct after reload: ${d}`);

  // Saving again replaces the bin and removes the old one.
  det.store.get('head.clsGenerator.thetaStarBias').assign(tf.fill([3], 1));
  saveDetector(det, dir);
  const bins2 = fs.readdirSync(dir).filter((f) => f.endsWith('.bin'));
  assert.equal(bins2.length, 1);
  assert.notEqual(bins2[0], bins[0]);
  assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).length, 0);
  [det, other, rebuilt].forEach((m) => m.dispose());
});

test('loading into a model of another shape names the mismatches and both configs', () => {
  const det = buildDetector(tinyConfig({ method: 'baseline' }), silent);
  const dir = path.join(tmp, 'small');
  saveDetector(det, dir);
  const wider = buildDetector(tinyConfig({ method: 'baseline', fpnChannels: 16 }), silent);
  assert.throws(
    () => loadDetectorWeights(wider, dir),
    (e: unknown) =>
      e instanceof UserError &&
      /does not fit this model/.test(e.message) &&
      /fpn\.lateral3\.weight: \[1,1,8,8\] in the file, \[1,1,8,16\] in the model/.test(e.message) &&
      /checkpoint: .*fpnChannels=8/.test(e.message) &&
      /model: .*fpnChannels=16/.test(e.message),
  );
  const meta = buildDetector(tinyConfig({ method: 'metaanchor' }), silent);
  assert.throws(
    () => loadDetectorWeights(meta, dir),
    (e: unknown) =>
      e instanceof UserError && /12 missing \(head\.clsGenerator\.thetaStarKernel/.test(e.message) && /4 unexpected \(head\.clsScore\.weight/.test(e.message),
  );
  [det, wider, meta].forEach((m) => m.dispose());
});

test('damaged or foreign weight files are UserErrors', () => {
  const dir = path.join(tmp, 'raw');
  writeWeights(dir, [{ name: 'a', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }]);
  const w = readWeights(dir);
  assert.deepEqual(Array.from(w.get('a')!.data), [1, 2, 3, 4, 5, 6]);
  assert.equal(w.get('b'), undefined);
  const bin = path.join(dir, w.manifest.binFile);
  const bytes = fs.readFileSync(bin);
  bytes[0] ^= 1;
  fs.writeFileSync(bin, bytes);
  assert.throws(
    () => readWeights(dir),
    (e: unknown) => e instanceof UserError && /sha256/.test(e.message),
  );
  fs.writeFileSync(bin, bytes.subarray(0, 8));
  assert.throws(
    () => readWeights(dir),
    (e: unknown) => e instanceof UserError && /has 8 bytes/.test(e.message),
  );
  fs.writeFileSync(path.join(dir, MANIFEST_NAME), JSON.stringify({ format: 'tfjs-layers' }));
  assert.throws(
    () => readWeights(dir),
    (e: unknown) => e instanceof UserError && /not a metaanchor-weights v1 manifest/.test(e.message),
  );
  assert.throws(
    () => readWeights(path.join(tmp, 'nowhere')),
    (e: unknown) => e instanceof UserError && /not found/.test(e.message),
  );
  assert.throws(() => readCheckpointMeta(path.join(tmp, 'nowhere')), UserError);
});

test('OIHW -> HWIO transposition', () => {
  // [o=2, i=3, kh=1, kw=2]: value = 1000 o + 100 i + 10 y + x
  const data: number[] = [];
  for (let o = 0; o < 2; o++) for (let i = 0; i < 3; i++) for (let y = 0; y < 1; y++) for (let x = 0; x < 2; x++) data.push(1000 * o + 100 * i + 10 * y + x);
  const t = oihwToHwio(new Float32Array(data), [2, 3, 1, 2]);
  assert.deepEqual(t.shape, [1, 2, 3, 2]);
  const hwio = tf.tensor4d(t.data, [1, 2, 3, 2]).arraySync();
  for (let o = 0; o < 2; o++) for (let i = 0; i < 3; i++) for (let x = 0; x < 2; x++) assert.equal(hwio[0][x][i][o], 1000 * o + 100 * i + x);
});
