// Runs fer_course/web/vision.js for tests/test_web_vision.py.
//
//   node tests/js/vision_cli.mjs JOB.json
//
// JOB.json: {"cascade": "path of the cascade JSON" (for the detectors), "jobs": [job, ...]}
// where each job is {"op": OP, "input": "path of the raw input bytes", "width": W,
// "height": H, ...}:
//   "gray"             input RGBA bytes; result: "data", the gray bytes (base64)
//   "resizeArea"       input gray; "newWidth", "newHeight"; result: "data"
//   "resizeLinearExact" the same, OpenCV's INTER_LINEAR_EXACT (the detector's pyramid)
//   "detectMultiScale" input gray; "options"; result: "boxes", [[x, y, w, h], ...]
//   "detectFaces"      input gray; "options"; result: "boxes"
//   "cropFaces"        input gray; "boxes", "margin", "size"; result: "data"
// Each result also has "ms", the time of the call. Writes {"results": [...]} to stdout.

import { readFileSync } from 'node:fs';
import * as vision from '../../fer_course/web/vision.js';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const cascade = job.cascade
  ? vision.loadCascade(JSON.parse(readFileSync(job.cascade, 'utf8'))) : null;

const toBase64 = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
const asBoxes = (rects) => rects.map((r) => [r.x, r.y, r.w, r.h]);

function run(task) {
  const input = new Uint8Array(readFileSync(task.input));
  const {width, height} = task;
  switch (task.op) {
    case 'gray': return {data: toBase64(vision.toGray(input, width, height))};
    case 'resizeArea':
      return {data: toBase64(vision.resizeArea(input, width, height, task.newWidth, task.newHeight))};
    case 'resizeLinearExact':
      return {data: toBase64(vision.resizeLinearExact(input, width, height, task.newWidth,
        task.newHeight))};
    case 'detectMultiScale':
      return {boxes: asBoxes(vision.detectMultiScale(input, width, height, cascade, task.options))};
    case 'detectFaces':
      return {boxes: asBoxes(vision.detectFaces(input, width, height, cascade, task.options))};
    case 'cropFaces':
      return {data: toBase64(vision.cropFaces(input, width, height, task.boxes,
        task.margin ?? 0.2, task.size ?? 48))};
    default: throw new Error(`unknown op ${task.op}`);
  }
}

const results = job.jobs.map((task) => {
  const start = performance.now();
  const result = run(task);
  result.ms = performance.now() - start;
  return result;
});
process.stdout.write(JSON.stringify({results}));
