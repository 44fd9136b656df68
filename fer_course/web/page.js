// The live section of "Try it on your face": a photo or the webcam, classified in the page.
//
// Everything runs here, in the reader's browser: the photo is decoded into a canvas, made
// gray (vision.js), searched for faces with OpenCV's Haar cascade (vision.js, the same
// algorithm and numbers as fer_course.faces.detect), each face cut to 48 x 48 the
// FER-2013 way, and the course's network (model.onnx) run by onnxruntime-web's WebAssembly
// build. No file or frame is sent anywhere. The heavy files load only when the reader
// picks a photo or starts the camera.
//
// For tests and the curious, the last result is kept on the page: each face is an <li>
// with data-box="x,y,w,h" and data-probabilities="p0,...,p6" (CLASSES order), the root
// element carries data-state (idle, loading, ready, working, error), data-faces and, on
// the camera, data-frames and data-fps.

import { toGray, loadCascade, detectFaces, cropFaces } from './vision.js';

const FOLDER = new URL('./', import.meta.url);
const MAX_BYTES = 40 * 1024 * 1024;   // larger files are refused before they are read
const MAX_PIXELS = 50e6;              // 50 megapixels: about 200 MB of pixels in memory
const SHOWN_SIDE = 1200;              // the drawn copy of a large photo
const CAMERA_SIDE = 640;              // camera frames are searched at this width

const root = document.getElementById('fer-demo');
const $ = (selector) => root.querySelector(selector);
const status = $('.fer-demo-status');
const view = $('canvas.fer-demo-view');
const list = $('ol.fer-demo-faces');
const video = $('video');
const cameraButton = $('button.fer-demo-camera');

let manifest = null;      // demo.json: the network, its classes and the files' sizes
let engine = null;        // {session, ort, cascade, classes} once loaded
let classify = true;      // false where WebAssembly is missing: boxes only
let stream = null;        // the camera's MediaStream while it runs

function say(text, state) {
  status.textContent = text;
  if (state) root.dataset.state = state;
}

function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

async function readManifest() {
  const response = await fetch(new URL('demo.json', FOLDER));
  if (!response.ok) throw new Error(`demo.json: HTTP ${response.status}`);
  return response.json();
}

function wasmWorks() {
  try {
    if (typeof WebAssembly !== 'object') return false;
    // the smallest valid module: the magic number and version
    const module = new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    return module instanceof WebAssembly.Module;
  } catch (error) {
    return false;
  }
}

// Load the cascade always, and the runtime and the network where WebAssembly runs.
async function ready() {
  if (engine) return engine;
  manifest = manifest || await readManifest();
  say(`Loading the detector and the network (${megabytes(manifest.bytes)}, once)…`, 'loading');
  const cascade = loadCascade(await (await fetch(new URL('cascade.json', FOLDER))).json());
  let session = null;
  let ort = null;
  classify = wasmWorks();
  if (classify) {
    ort = await import(new URL('ort.wasm.min.mjs', FOLDER).href);
    ort.env.wasm.wasmPaths = FOLDER.href;
    ort.env.wasm.numThreads = 1;  // threads need a cross-origin isolated page
    session = await ort.InferenceSession.create(new URL('model.onnx', FOLDER).href,
                                                {executionProviders: ['wasm']});
  }
  engine = {session, ort, cascade, classes: manifest.classes};
  return engine;
}

// ready(), or a message that says what failed to load (null then).
async function readyOrSay() {
  try {
    return await ready();
  } catch (error) {
    engine = null;
    say(`The detector or the network could not be loaded (${error.message || error}). `
        + 'Reload the page to try again.', 'error');
    return null;
  }
}

// Faces of a gray image: boxes, and their probabilities when the network can run.
async function analyse(gray, width, height) {
  const {session, ort, cascade, classes} = await ready();
  const started = performance.now();
  const boxes = detectFaces(gray, width, height, cascade);
  const found = performance.now();
  let probabilities = [];
  if (boxes.length && session) {
    const faces = cropFaces(gray, width, height, boxes);
    const input = new Float32Array(faces.length);
    for (let i = 0; i < faces.length; i++) input[i] = faces[i] / 255;
    const tensor = new ort.Tensor('float32', input, [boxes.length, 1, 48, 48]);
    const output = await session.run({[manifest.input.name]: tensor});
    const values = output[manifest.output.name].data;
    probabilities = boxes.map((_, i) => Array.from(values.slice(i * classes.length,
                                                                (i + 1) * classes.length)));
  }
  const timing = {detector: found - started, network: performance.now() - found};
  root.dataset.detectorMs = timing.detector.toFixed(1);
  root.dataset.networkMs = timing.network.toFixed(1);
  return {boxes, probabilities, timing};
}

function argmax(values) {
  return values.reduce((best, v, i) => (v > values[best] ? i : best), 0);
}

// The picture with its boxes and labels, drawn at the size it is shown (sharp on a phone's
// screen too), at most SHOWN_SIDE px.
function draw(source, width, height, result) {
  const ratio = window.devicePixelRatio || 1;
  const shown = (view.parentElement.clientWidth || width) * ratio;
  const shrink = Math.min(1, shown / width, SHOWN_SIDE / Math.max(width, height));
  view.width = Math.round(width * shrink);
  view.height = Math.round(height * shrink);
  const context = view.getContext('2d');
  context.drawImage(source, 0, 0, view.width, view.height);
  context.lineWidth = 2 * ratio;
  context.font = `${Math.round(15 * ratio)}px sans-serif`;
  context.textBaseline = 'bottom';
  result.boxes.forEach((box, i) => {
    const [x, y, w, h] = [box.x, box.y, box.w, box.h].map((v) => v * shrink);
    context.strokeStyle = '#ffd700';
    context.strokeRect(x, y, w, h);
    const p = result.probabilities[i];
    const label = p ? `${i + 1}: ${engine.classes[argmax(p)]}` : `${i + 1}`;
    const textWidth = context.measureText(label).width;
    const textHeight = parseInt(context.font, 10) + 4;
    context.fillStyle = '#ffd700';
    context.fillRect(x, Math.max(0, y - textHeight), textWidth + 8, textHeight);
    context.fillStyle = '#000';
    context.fillText(label, x + 4, Math.max(textHeight, y));
  });
}

// One <li> per face: its label and a bar per class.
function listFaces(result) {
  list.replaceChildren(...result.boxes.map((box, i) => {
    const item = document.createElement('li');
    item.className = 'fer-face';
    item.dataset.box = [box.x, box.y, box.w, box.h].join(',');
    const p = result.probabilities[i];
    const title = document.createElement('strong');
    if (!p) {
      title.textContent = `Face ${i + 1}`;
      item.append(title);
      return item;
    }
    item.dataset.probabilities = p.join(',');
    const top = argmax(p);
    title.textContent = `Face ${i + 1}: ${engine.classes[top]}`;
    const bars = document.createElement('div');
    bars.className = 'fer-bars';
    engine.classes.forEach((name, k) => {
      const row = document.createElement('div');
      row.className = k === top ? 'fer-bar fer-bar-top' : 'fer-bar';
      const percent = (100 * p[k]).toFixed(0);
      row.innerHTML = `<span class="fer-bar-name"></span><span class="fer-bar-track">`
        + `<span class="fer-bar-fill" style="width:${(100 * p[k]).toFixed(1)}%"></span>`
        + `</span><span class="fer-bar-value">${percent} %</span>`;
      row.querySelector('.fer-bar-name').textContent = name;
      bars.append(row);
    });
    item.append(title, bars);
    return item;
  }));
  root.dataset.faces = String(result.boxes.length);
}

function summary(result) {
  const n = result.boxes.length;
  if (!n) {
    return 'No face found. The detector looks for upright faces turned to the camera, at '
      + 'least 30 px across: try a photo where the face looks at the camera and fills more '
      + 'of the frame.';
  }
  const time = `(detector ${result.timing.detector.toFixed(0)} ms, network `
    + `${result.timing.network.toFixed(0)} ms)`;
  const found = `${n} face${n === 1 ? '' : 's'} found ${time}`;
  return classify ? `${found}.`
    : `${found}. This browser has no WebAssembly, which the network needs: the boxes are `
      + 'shown, the emotions are not.';
}

// Image size from the file's header, without decoding its pixels.
function imageSize(file) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    const url = URL.createObjectURL(file);
    image.onload = () => { URL.revokeObjectURL(url); resolve([image.naturalWidth, image.naturalHeight]); };
    image.onerror = () => { URL.revokeObjectURL(url); reject(new Error('not an image')); };
    image.src = url;
  });
}

async function photoChosen(file) {
  if (!file) return;
  const name = file.name || 'the file';
  if (file.size === 0) return say(`${name} is empty (0 bytes): choose a photo file.`, 'error');
  if (file.size > MAX_BYTES) {
    return say(`${name} is ${megabytes(file.size)}: photos up to ${megabytes(MAX_BYTES)} `
               + 'are read here. Save a smaller copy and try again.', 'error');
  }
  let width;
  let height;
  try {
    [width, height] = await imageSize(file);
  } catch (error) {
    return say(`${name} is not an image this browser can read (JPEG, PNG, WebP or GIF).`,
               'error');
  }
  if (width * height > MAX_PIXELS) {
    return say(`${name} is ${width} × ${height} px, over ${MAX_PIXELS / 1e6} megapixels: `
               + 'save a smaller copy (the detector works on at most 1600 px anyway).', 'error');
  }
  stopCamera();
  if (!await readyOrSay()) return;
  try {
    say(`Looking for faces in ${name}…`, 'working');
    const bitmap = await createImageBitmap(file, {imageOrientation: 'from-image',
                                                  colorSpaceConversion: 'none',
                                                  premultiplyAlpha: 'none'});
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const context = canvas.getContext('2d', {willReadFrequently: true});
    context.drawImage(bitmap, 0, 0);
    const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const gray = toGray(pixels, bitmap.width, bitmap.height);
    const result = await analyse(gray, bitmap.width, bitmap.height);
    draw(bitmap, bitmap.width, bitmap.height, result);
    listFaces(result);
    bitmap.close();
    say(`${name}, ${width} × ${height} px: ${summary(result)}`, 'ready');
  } catch (error) {
    say(`${name} could not be read: ${error.message}`, 'error');
  }
}

// ------------------------------------------------------------------------ the camera

function cameraProblem(error) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return 'This browser gives no camera to this page (an address served over https or '
      + 'localhost is needed).';
  }
  if (error && error.name === 'NotAllowedError') {
    return 'The camera was refused. Allow it in the address bar to use it. Photos still work.';
  }
  if (error && (error.name === 'NotFoundError' || error.name === 'OverconstrainedError')) {
    return 'No camera was found. Photos still work.';
  }
  return `The camera could not start (${error ? error.message || error.name : 'unknown'}). `
    + 'Photos still work.';
}

function stopCamera() {
  if (!stream) return;
  stream.getTracks().forEach((track) => track.stop());
  stream = null;
  video.srcObject = null;
  cameraButton.textContent = 'Start the camera';
}

async function cameraLoop() {
  const work = document.createElement('canvas');
  const context = work.getContext('2d', {willReadFrequently: true});
  const started = performance.now();
  let frames = 0;
  while (stream) {
    const scale = Math.min(1, CAMERA_SIDE / video.videoWidth);
    work.width = Math.round(video.videoWidth * scale);
    work.height = Math.round(video.videoHeight * scale);
    if (work.width && work.height) {
      context.drawImage(video, 0, 0, work.width, work.height);
      const pixels = context.getImageData(0, 0, work.width, work.height).data;
      const result = await analyse(toGray(pixels, work.width, work.height),
                                   work.width, work.height);
      if (!stream) break;
      draw(work, work.width, work.height, result);
      listFaces(result);
      frames += 1;
      const fps = frames / ((performance.now() - started) / 1000);
      root.dataset.frames = String(frames);
      root.dataset.fps = fps.toFixed(1);
      say(`Camera: ${summary(result)} ${fps.toFixed(1)} frames a second.`, 'ready');
    }
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
}

async function toggleCamera() {
  if (stream) {
    stopCamera();
    say('Camera stopped.', 'ready');
    return;
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return say(cameraProblem(null), 'error');
  }
  if (!await readyOrSay()) return;
  try {
    say('Asking for the camera…', 'working');
    stream = await navigator.mediaDevices.getUserMedia(
      {video: {width: {ideal: 640}, height: {ideal: 480}}, audio: false});
  } catch (error) {
    stream = null;
    return say(cameraProblem(error), 'error');
  }
  video.srcObject = stream;
  await video.play();
  cameraButton.textContent = 'Stop the camera';
  cameraLoop().catch((error) => { stopCamera(); say(`The camera stopped: ${error.message}`, 'error'); });
}

// ------------------------------------------------------------------------ wiring

$('input[type=file]').addEventListener('change', (event) => photoChosen(event.target.files[0]));
cameraButton.addEventListener('click', () => { toggleCamera(); });
root.dataset.state = 'idle';
if (!wasmWorks()) {
  say('This browser has no WebAssembly: faces will be found and boxed, but the network that '
      + 'names their emotion cannot run here.', 'idle');
}
readManifest().then((m) => {
  manifest = m;
  $('.fer-demo-size').textContent = `${megabytes(m.bytes)} (the network `
    + `${megabytes(m.files['model.onnx'].bytes)}, the detector `
    + `${megabytes(m.files['cascade.json'].bytes)}, the runtime `
    + `${megabytes(m.bytes - m.files['model.onnx'].bytes - m.files['cascade.json'].bytes)})`;
}).catch(() => {
  say('This copy of the site was built without the live section\'s files.', 'error');
});
