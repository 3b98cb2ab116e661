/**
 * `metaanchor eval coco|voc`: score a detector's results files with the reference metrics.
 *   eval coco --gt instances.json --dt results.json [--json]
 *   eval voc --annotations <dir> --imageset <ImageSets/Main/x.txt> --dets <dir> [--classes a,b] [--json] [--all-point]
 */
import { Command } from 'commander';
import { evaluateCoco, formatCocoSummary } from '../../eval/coco';
import { evaluateVocDevkit, formatVocReport } from '../../eval/voc';
import { checkReadableFile } from '../../util/files';

export function register(program: Command): void {
  const evalCommand = program
    .command('eval')
    .description('evaluate detections: COCO bbox AP (same numbers as pycocotools) or PASCAL VOC AP (VOCdevkit / py-faster-rcnn)');

  evalCommand
    .command('coco')
    .description('COCO bbox evaluation of a results json against an instances json; prints the 12-line pycocotools summary')
    .requiredOption('--gt <instances.json>', 'ground truth, COCO instances format')
    .requiredOption('--dt <results.json>', 'detections, COCO results format: [{image_id, category_id, bbox: [x, y, w, h], score}]')
    .option('--json', 'print {"stats": [12 numbers], "per_category": [{category_id, ap, ap50, ap75, ar100}]}')
    .action((opts: { gt: string; dt: string; json?: boolean }) => {
      const result = evaluateCoco(checkReadableFile(opts.gt, '--gt'), checkReadableFile(opts.dt, '--dt'));
      if (opts.json) {
        console.log(
          JSON.stringify({
            stats: result.stats,
            per_category: result.perCategory.map((c) => ({
              category_id: c.categoryId,
              ap: c.ap,
              ap50: c.ap50,
              ap75: c.ap75,
              ar100: c.ar100,
            })),
          }),
        );
      } else {
        console.log(formatCocoSummary(result.stats).join('\n'));
      }
    });

  evalCommand
    .command('voc')
    .description('PASCAL VOC AP per class and mAP from a VOCdevkit layout (VOC2007 11-point by default)')
    .requiredOption('--annotations <dir>', 'folder of VOC annotation xml files, <image_id>.xml')
    .requiredOption('--imageset <file>', 'ImageSets/Main/<set>.txt, one image id per line')
    .requiredOption('--dets <dir>', 'folder with comp4_det_test_<class>.txt files: "<image_id> <score> <xmin> <ymin> <xmax> <ymax>" per line')
    .option('--classes <names>', 'comma-separated classes to evaluate (default: every class in the annotations, sorted)')
    .option('--json', 'print {"per_class": [{class, ap (null without ground truth)}], "mAP": number, "classes_without_ground_truth": [...]}')
    .option('--all-point', 'VOC2010+ all-point AP instead of the VOC2007 11-point AP')
    .action((opts: { annotations: string; imageset: string; dets: string; classes?: string; json?: boolean; allPoint?: boolean }) => {
      const classes = opts.classes
        ? opts.classes
            .split(',')
            .map((c) => c.trim())
            .filter((c) => c.length > 0)
        : undefined;
      const result = evaluateVocDevkit(
        { annotationsDir: opts.annotations, imageSetFile: opts.imageset, detectionsDir: opts.dets, classes },
        { metric: opts.allPoint ? 'all-point' : 'voc07' },
      );
      if (opts.json) {
        console.log(
          JSON.stringify({
            // A class without ground truth has no AP (null), not 0: it is not in the mean either.
            per_class: result.perClass.map((c) => ({ class: c.className, ap: c.npos > 0 ? c.ap : null })),
            mAP: result.mAP,
            classes_without_ground_truth: result.classesWithoutGroundTruth,
          }),
        );
      } else {
        console.log(formatVocReport(result).join('\n'));
      }
    });
}
