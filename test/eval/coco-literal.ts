/**
 * A line-by-line port of pycocotools' COCOeval (evaluate / evaluateImg / accumulate, bbox, default
 * Params) with plain arrays and objects, no shortcuts. It is slow and only serves as a second opinion
 * for the optimised evaluator in lib/eval/coco.ts on randomly generated inputs.
 */
import { COCO_AREA_RANGES, COCO_IOU_THRESHOLDS, COCO_MAX_DETS, COCO_RECALL_THRESHOLDS, FLOAT64_EPS } from '../../lib/eval/coco-params';

const IOU_THRS: number[] = Array.from(COCO_IOU_THRESHOLDS);
const REC_THRS: number[] = Array.from(COCO_RECALL_THRESHOLDS);
import { CocoGroundTruthJson, CocoResultJson } from '../../lib/eval/coco-input';

interface Ann {
  id: number;
  bbox: number[];
  area: number;
  iscrowd: number;
  score: number;
  ignore: number;
}
interface EvalImg {
  dtScores: number[];
  dtMatches: number[][];
  dtIgnore: number[][];
  gtIgnore: number[];
}

function argsortStable(keys: number[]): number[] {
  return keys
    .map((k, i) => [k, i])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .map((x) => x[1]);
}

function iou(d: number[], g: number[], crowd: number): number {
  const w = Math.min(d[2] + d[0], g[2] + g[0]) - Math.max(d[0], g[0]);
  if (w <= 0) return 0;
  const h = Math.min(d[3] + d[1], g[3] + g[1]) - Math.max(d[1], g[1]);
  if (h <= 0) return 0;
  const i = w * h;
  const u = crowd ? d[2] * d[3] : d[2] * d[3] + g[2] * g[3] - i;
  return i / u;
}

/** Returns precision [T][R][K][A][M] and recall [T][K][A][M] flattened, as COCOeval.eval. */
export function literalCocoEval(gtJson: CocoGroundTruthJson, dtJson: CocoResultJson[]): { precision: number[]; recall: number[] } {
  const imgIds = [...new Set(gtJson.images.map((i) => i.id))].sort((a, b) => a - b);
  const catIds = [...new Set(gtJson.categories.map((c) => c.id))].sort((a, b) => a - b);
  const gts = new Map<string, Ann[]>();
  const dts = new Map<string, Ann[]>();
  const push = (m: Map<string, Ann[]>, k: string, a: Ann) => (m.get(k) ?? m.set(k, []).get(k)!).push(a);
  for (const imgId of imgIds) {
    for (const a of gtJson.annotations) {
      if (a.image_id !== imgId || !catIds.includes(a.category_id)) continue;
      push(gts, `${imgId},${a.category_id}`, { id: a.id, bbox: a.bbox, area: a.area, iscrowd: a.iscrowd ? 1 : 0, score: 0, ignore: a.iscrowd ? 1 : 0 });
    }
    dtJson.forEach((d, i) => {
      if (d.image_id !== imgId || !catIds.includes(d.category_id)) return;
      push(dts, `${imgId},${d.category_id}`, { id: i + 1, bbox: d.bbox, area: d.bbox[2] * d.bbox[3], iscrowd: 0, score: d.score, ignore: 0 });
    });
  }
  const T = COCO_IOU_THRESHOLDS.length;
  const R = COCO_RECALL_THRESHOLDS.length;
  const K = catIds.length;
  const A = COCO_AREA_RANGES.length;
  const M = COCO_MAX_DETS.length;
  const I = imgIds.length;
  const maxDet = COCO_MAX_DETS[M - 1];

  const evalImgs: (EvalImg | null)[] = [];
  for (const catId of catIds) {
    for (const aRng of COCO_AREA_RANGES) {
      for (const imgId of imgIds) {
        let gt = gts.get(`${imgId},${catId}`) ?? [];
        let dt = dts.get(`${imgId},${catId}`) ?? [];
        if (gt.length === 0 && dt.length === 0) {
          evalImgs.push(null);
          continue;
        }
        const gIgnore = gt.map((g) => (g.ignore || g.area < aRng[0] || g.area > aRng[1] ? 1 : 0));
        const gtind = argsortStable(gIgnore);
        gt = gtind.map((i) => gt[i]);
        const gtIg = gtind.map((i) => gIgnore[i]);
        dt = argsortStable(dt.map((d) => -d.score))
          .slice(0, maxDet)
          .map((i) => dt[i]);
        const iscrowd = gt.map((g) => g.iscrowd);
        const ious = dt.map((d) => gt.map((g) => iou(d.bbox, g.bbox, g.iscrowd)));
        const gtm = IOU_THRS.map(() => gt.map(() => 0));
        const dtm = IOU_THRS.map(() => dt.map(() => 0));
        const dtIg = IOU_THRS.map(() => dt.map(() => 0));
        IOU_THRS.forEach((t, tind) => {
          dt.forEach((d, dind) => {
            let best = Math.min(t, 1 - 1e-10);
            let m = -1;
            for (let gind = 0; gind < gt.length; gind++) {
              if (gtm[tind][gind] > 0 && !iscrowd[gind]) continue;
              if (m > -1 && gtIg[m] === 0 && gtIg[gind] === 1) break;
              if (ious[dind][gind] < best) continue;
              best = ious[dind][gind];
              m = gind;
            }
            if (m === -1) return;
            dtIg[tind][dind] = gtIg[m];
            // The literal code stores gt ids; +1 keeps id 0 "matched" (the optimised evaluator's choice).
            dtm[tind][dind] = gt[m].id + 1;
            gtm[tind][m] = d.id;
          });
        });
        dt.forEach((d, dind) => {
          const out = d.area < aRng[0] || d.area > aRng[1];
          for (let t = 0; t < T; t++) if (dtm[t][dind] === 0 && out) dtIg[t][dind] = 1;
        });
        evalImgs.push({ dtScores: dt.map((d) => d.score), dtMatches: dtm, dtIgnore: dtIg, gtIgnore: gtIg });
      }
    }
  }

  const precision = new Array(T * R * K * A * M).fill(-1);
  const recall = new Array(T * K * A * M).fill(-1);
  for (let k = 0; k < K; k++) {
    for (let a = 0; a < A; a++) {
      for (let m = 0; m < M; m++) {
        const E = Array.from({ length: I }, (_, i) => evalImgs[k * A * I + a * I + i]).filter((e): e is EvalImg => e !== null);
        if (E.length === 0) continue;
        const md = COCO_MAX_DETS[m];
        const dtScores = E.flatMap((e) => e.dtScores.slice(0, md));
        const inds = argsortStable(dtScores.map((s) => -s));
        const dtm = IOU_THRS.map((_, t) => {
          const row = E.flatMap((e) => e.dtMatches[t].slice(0, md));
          return inds.map((i) => row[i]);
        });
        const dtIg = IOU_THRS.map((_, t) => {
          const row = E.flatMap((e) => e.dtIgnore[t].slice(0, md));
          return inds.map((i) => row[i]);
        });
        const npig = E.flatMap((e) => e.gtIgnore).filter((g) => g === 0).length;
        if (npig === 0) continue;
        for (let t = 0; t < T; t++) {
          let tpSum = 0;
          let fpSum = 0;
          const rc: number[] = [];
          const pr: number[] = [];
          for (let x = 0; x < inds.length; x++) {
            if (dtm[t][x] && !dtIg[t][x]) tpSum++;
            if (!dtm[t][x] && !dtIg[t][x]) fpSum++;
            rc.push(tpSum / npig);
            pr.push(tpSum / (fpSum + tpSum + FLOAT64_EPS));
          }
          const nd = rc.length;
          recall[((t * K + k) * A + a) * M + m] = nd ? rc[nd - 1] : 0;
          for (let i = nd - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
          REC_THRS.forEach((thr, r) => {
            let j = 0;
            while (j < nd && rc[j] < thr) j++;
            precision[(((t * R + r) * K + k) * A + a) * M + m] = j < nd ? pr[j] : 0;
          });
        }
      }
    }
  }
  return { precision, recall };
}
