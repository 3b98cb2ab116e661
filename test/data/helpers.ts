/** Small hand-made datasets in temporary folders for the data-layer tests. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';

/** Four real photos with hand-drawn boxes and COCO's 80 categories (test/fixtures/photos/README.md). */
export const PHOTOS_DIR = path.resolve(__dirname, '../fixtures/photos');

const created: string[] = [];
process.on('exit', () => {
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(d);
  return d;
}

/**
 * An RGB image whose pixel (x, y) is (x mod 256, y mod 256, 200): position is readable from the
 * pixel, so resize and flip can be checked. PNG unless the name ends in .jpg.
 */
export async function writeCoordImage(file: string, widthPx: number, heightPx: number): Promise<void> {
  const buf = Buffer.alloc(widthPx * heightPx * 3);
  for (let y = 0; y < heightPx; y++) {
    for (let x = 0; x < widthPx; x++) {
      const o = (y * widthPx + x) * 3;
      buf[o] = x % 256;
      buf[o + 1] = y % 256;
      buf[o + 2] = 200;
    }
  }
  const img = sharp(buf, { raw: { width: widthPx, height: heightPx, channels: 3 } });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await (file.endsWith('.jpg') ? img.jpeg({ quality: 95 }) : img.png()).toFile(file);
}

/** A one-channel image of constant grey level. */
export async function writeGreyImage(file: string, widthPx: number, heightPx: number, level: number): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(Buffer.alloc(widthPx * heightPx, level), { raw: { width: widthPx, height: heightPx, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(file);
}

/**
 * A COCO json with the edge cases: sparse, unsorted category ids (90, 1, 18), a crowd box, an image
 * without annotations, a box past the image border. Images a.png (40x30), b.png (20x20 grey),
 * c.png (30x40, no boxes).
 */
export async function writeEdgeCaseCoco(dir: string): Promise<{ json: string; images: string; raw: Record<string, unknown> }> {
  const images = path.join(dir, 'images');
  await writeCoordImage(path.join(images, 'a.png'), 40, 30);
  await writeGreyImage(path.join(images, 'b.png'), 20, 20, 90);
  await writeCoordImage(path.join(images, 'c.png'), 30, 40);
  const raw = {
    images: [
      { id: 7, file_name: 'a.png', width: 40, height: 30 },
      { id: 3, file_name: 'b.png', width: 20, height: 20 },
      { id: 11, file_name: 'c.png', width: 30, height: 40 },
    ],
    annotations: [
      { id: 101, image_id: 7, category_id: 18, bbox: [2, 3, 10, 8], area: 70, iscrowd: 0 },
      { id: 102, image_id: 7, category_id: 90, bbox: [30, 20, 15, 20], area: 300, iscrowd: 0 }, // past the border
      { id: 103, image_id: 3, category_id: 1, bbox: [0, 0, 20, 10], area: 200, iscrowd: 1 }, // crowd
      { id: 104, image_id: 3, category_id: 1, bbox: [5.5, 6.25, 4, 3], area: 12, iscrowd: 0 },
    ],
    categories: [
      { id: 90, name: 'toothbrush', supercategory: 'indoor' },
      { id: 1, name: 'person', supercategory: 'person' },
      { id: 18, name: 'dog', supercategory: 'animal' },
    ],
  };
  const json = path.join(dir, 'annotations', 'instances_edge.json');
  fs.mkdirSync(path.dirname(json), { recursive: true });
  fs.writeFileSync(json, JSON.stringify(raw));
  return { json, images, raw };
}
