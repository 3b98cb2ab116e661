/**
 * ImageNet weights for the ResNet backbones, read from a weights directory in the format of
 * ../weights-file.ts. Names are torchvision state_dict keys (`conv1.weight`, `bn1.running_var`,
 * `layer3.2.conv2.weight`, `layer2.0.downsample.1.bias`, ...); `fc.*` and `num_batches_tracked`
 * entries are ignored. With `"layout": "torchvision"` conv weights are OIHW and are transposed to
 * HWIO here, so a torchvision checkpoint converts without any reshaping:
 *
 *   # python3, torch + torchvision installed; writes resnet50-imagenet/weights.json + .bin
 *   import json, hashlib, os, torchvision
 *   sd = torchvision.models.resnet50(weights="IMAGENET1K_V1").state_dict()  # or resnet18
 *   os.makedirs("resnet50-imagenet", exist_ok=True)
 *   blobs, entries, off = [], [], 0
 *   for k, v in sd.items():
 *       if k.startswith("fc.") or k.endswith("num_batches_tracked"): continue
 *       b = v.detach().cpu().float().numpy().astype("<f4").tobytes()
 *       entries.append({"name": k, "shape": list(v.shape), "dtype": "float32", "offset": off})
 *       blobs.append(b); off += len(b)
 *   data = b"".join(blobs); sha = hashlib.sha256(data).hexdigest(); binf = f"weights-{sha[:16]}.bin"
 *   open(f"resnet50-imagenet/{binf}", "wb").write(data)
 *   json.dump({"format": "metaanchor-weights", "version": 1, "layout": "torchvision", "binFile": binf,
 *              "byteLength": len(data), "sha256": sha, "weights": entries},
 *             open("resnet50-imagenet/weights.json", "w"))
 *
 * torchvision's IMAGENET1K_V1 models take RGB scaled to 0..1 and normalised by mean (0.485, 0.456,
 * 0.406) / std (0.229, 0.224, 0.225): exactly DEFAULT_MODEL_CONFIG's pixelMeanRGB / pixelStdRGB
 * in 0..255 units.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../../util/errors';
import { ParamStore } from '../params';
import { oihwToHwio, readWeights } from '../weights-file';

export interface PretrainedLoadReport {
  source: string;
  loaded: number;
  ignored: string[];
}

/** Assign every parameter under `${prefix}.` from the file; throws a UserError on missing or mis-shaped entries. */
export function loadPretrainedBackbone(store: ParamStore, prefix: string, source: string): PretrainedLoadReport {
  const file = readWeights(source);
  const wanted = store.names().filter((n) => n.startsWith(`${prefix}.`));
  const missing: string[] = [];
  const misshaped: string[] = [];
  const values: [string, number[], Float32Array][] = [];
  for (const name of wanted) {
    const key = name.slice(prefix.length + 1);
    const entry = file.get(key);
    if (!entry) {
      missing.push(key);
      continue;
    }
    let { shape, data } = entry;
    if (file.manifest.layout === 'torchvision' && shape.length === 4) ({ shape, data } = oihwToHwio(data, shape));
    const want = store.get(name).shape;
    if (shape.length !== want.length || shape.some((d, i) => d !== want[i])) {
      misshaped.push(`${key}: file [${shape}] vs model [${want}]`);
      continue;
    }
    values.push([name, shape, data]);
  }
  if (missing.length || misshaped.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing ${missing.length} (e.g. ${missing.slice(0, 3).join(', ')})`);
    if (misshaped.length) parts.push(`wrong shape: ${misshaped.slice(0, 3).join('; ')}`);
    throw new UserError(
      `backbone weights ${source} do not fit this backbone: ${parts.join('; ')}`,
      'use weights of the same architecture (resnet18 vs resnet50) converted as described in lib/model/backbones/pretrained.ts',
    );
  }
  for (const [name, shape, data] of values) {
    const t = tf.tensor(data, shape, 'float32');
    store.get(name).assign(t);
    t.dispose();
  }
  const used = new Set(wanted.map((n) => n.slice(prefix.length + 1)));
  const ignored = file.names().filter((n) => !used.has(n));
  return { source, loaded: values.length, ignored };
}
