// vision.js: the face pipeline of fer_course.faces (photos.py, detect.py) in plain JavaScript,
// bit for bit: PIL's gray conversion, OpenCV 4's INTER_AREA downscale and Haar cascade
// (CascadeClassifier.detectMultiScale with its bit-exact bilinear image pyramid and
// groupRectangles), and PIL's Lanczos crop to 48 x 48. No dependencies, no DOM.
//
// Images are 8-bit gray Uint8Arrays, row after row (index y * width + x). Where OpenCV
// computes in float32, the code here rounds each step with Math.fround in the same order;
// where it rounds half to even (cvRound, saturate_cast), so does rint below.

const fround = Math.fround;

/** Round half to even, as cvRound, saturate_cast<int> and Python's round do. */
function rint(x) {
  const r = Math.round(x); // half up
  return (r - x === 0.5 && (r & 1) !== 0) ? r - 1 : r;
}

function clamp255(v) {
  return v < 0 ? 0 : (v > 255 ? 255 : v);
}

function checkImage(gray, width, height) {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width} x ${height}`);
  }
  if (gray.length < width * height) {
    throw new RangeError(`${gray.length} pixels given for a ${width} x ${height} image`);
  }
}

// --------------------------------------------------------------------------- gray

/**
 * PIL's "L" of an RGBA image (a canvas ImageData's data), as `load_gray` makes it: the
 * pixels are composited on white first (PIL's alpha_composite, 7-bit precision), then
 * L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16. Opaque pixels are unchanged by the
 * compositing, so an opaque photo gives the "L" of its RGB.
 * @param {Uint8ClampedArray|Uint8Array} rgba 4 bytes per pixel, width * height pixels
 * @param {number} width
 * @param {number} height
 * @returns {Uint8Array} width * height gray pixels
 */
export function toGray(rgba, width, height) {
  const n = width * height;
  if (rgba.length < 4 * n) {
    throw new RangeError(`${rgba.length} bytes given for a ${width} x ${height} RGBA image`);
  }
  const out = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    let r = rgba[j], g = rgba[j + 1], b = rgba[j + 2];
    const a = rgba[j + 3];
    if (a === 0) {
      r = g = b = 255;
    } else if (a !== 255) {
      // PIL alpha_composite over opaque white: coef1 = a * 128, coef2 = (255 - a) * 128;
      // each channel (c * coef1 + 255 * coef2 + 128 * 128) divided by 255 * 128, rounded
      // the way PIL's SHIFTFORDIV255 does it.
      const c1 = a * 128, white = 255 * (255 - a) * 128 + 16384;
      let t = r * c1 + white;
      r = ((((t >> 8) + t) >> 8) >> 7);
      t = g * c1 + white;
      g = ((((t >> 8) + t) >> 8) >> 7);
      t = b * c1 + white;
      b = ((((t >> 8) + t) >> 8) >> 7);
    }
    out[i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
  }
  return out;
}

// --------------------------------------------------------------------------- resizing

// OpenCV's area-averaging fast path for integer ratios (resizeAreaFast_): 2 x 2 blocks are
// averaged as (sum + 2) >> 2, other block sizes as cvRound(sum * (float)(1 / area)); cells
// past the last full block (not reached for exact integer ratios) average what they cover.
function areaFast(src, width, height, newWidth, newHeight, sx, sy) {
  const dst = new Uint8Array(newWidth * newHeight);
  const area = sx * sy;
  const scale = fround(1 / area);
  const twoByTwo = sx === 2 && sy === 2;
  const fullWidth = Math.floor(width / sx);
  for (let dy = 0; dy < newHeight; dy++) {
    const y0 = dy * sy, row = dy * newWidth;
    if (y0 >= height) continue; // zeros
    const full = y0 + sy <= height ? fullWidth : 0;
    let dx = 0;
    for (; dx < full && dx < newWidth; dx++) {
      const x0 = dx * sx;
      if (twoByTwo) {
        const p = y0 * width + x0;
        dst[row + dx] = (src[p] + src[p + 1] + src[p + width] + src[p + width + 1] + 2) >> 2;
      } else {
        let sum = 0;
        for (let k = 0; k < sy; k++) {
          const p = (y0 + k) * width + x0;
          for (let m = 0; m < sx; m++) sum += src[p + m];
        }
        dst[row + dx] = clamp255(rint(fround(sum * scale)));
      }
    }
    for (; dx < newWidth; dx++) {
      const x0 = dx * sx;
      let sum = 0, count = 0;
      if (x0 >= width) continue;
      for (let k = 0; k < sy && y0 + k < height; k++) {
        for (let m = 0; m < sx && x0 + m < width; m++) {
          sum += src[(y0 + k) * width + x0 + m];
          count++;
        }
      }
      dst[row + dx] = clamp255(rint(fround(fround(sum) / count)));
    }
  }
  return dst;
}

// OpenCV's computeResizeAreaTab: which source cells feed each destination cell, with their
// float32 weights. Returns {src, dst, alpha} arrays in OpenCV's order.
function areaTable(srcSize, dstSize, scale) {
  const si = [], di = [], alpha = [];
  for (let d = 0; d < dstSize; d++) {
    const f1 = d * scale, f2 = f1 + scale;
    const cell = Math.min(scale, srcSize - f1);
    let s1 = Math.ceil(f1), s2 = Math.floor(f2);
    s2 = Math.min(s2, srcSize - 1);
    s1 = Math.min(s1, s2);
    if (s1 - f1 > 1e-3) {
      di.push(d); si.push(s1 - 1); alpha.push(fround((s1 - f1) / cell));
    }
    for (let s = s1; s < s2; s++) {
      di.push(d); si.push(s); alpha.push(fround(1 / cell));
    }
    if (f2 - s2 > 1e-3) {
      di.push(d); si.push(s2); alpha.push(fround(Math.min(Math.min(f2 - s2, 1), cell) / cell));
    }
  }
  return {si: Int32Array.from(si), di: Int32Array.from(di), alpha: Float64Array.from(alpha)};
}

// OpenCV's ResizeArea_Invoker for uint8 (float32 accumulation, in its order of operations).
function areaGeneral(src, width, height, newWidth, newHeight, scaleX, scaleY) {
  const xt = areaTable(width, newWidth, scaleX);
  const yt = areaTable(height, newHeight, scaleY);
  const dst = new Uint8Array(newWidth * newHeight);
  const buf = new Float64Array(newWidth), sum = new Float64Array(newWidth);
  const nx = xt.si.length, ny = yt.si.length;
  let prev = yt.di[0];
  for (let j = 0; j < ny; j++) {
    const beta = yt.alpha[j], dy = yt.di[j], row = yt.si[j] * width;
    buf.fill(0);
    for (let k = 0; k < nx; k++) {
      const d = xt.di[k];
      buf[d] = fround(buf[d] + fround(src[row + xt.si[k]] * xt.alpha[k]));
    }
    if (dy !== prev) {
      const out = prev * newWidth;
      for (let dx = 0; dx < newWidth; dx++) {
        dst[out + dx] = clamp255(rint(sum[dx]));
        sum[dx] = fround(beta * buf[dx]);
      }
      prev = dy;
    } else {
      for (let dx = 0; dx < newWidth; dx++) sum[dx] = fround(sum[dx] + fround(beta * buf[dx]));
    }
  }
  const out = prev * newWidth;
  for (let dx = 0; dx < newWidth; dx++) dst[out + dx] = clamp255(rint(sum[dx]));
  return dst;
}

/**
 * `cv2.resize(gray, (newWidth, newHeight), interpolation=cv2.INTER_AREA)` for a uint8
 * one-channel image, bit-exact: the integer-ratio fast path and the general fractional
 * path (float32 weights and sums, as OpenCV). Only shrinking (or keeping) each side is
 * supported: OpenCV's INTER_AREA enlarges with a different (bilinear) code path.
 * @param {Uint8Array} gray width * height pixels
 * @returns {Uint8Array} newWidth * newHeight pixels
 */
export function resizeArea(gray, width, height, newWidth, newHeight) {
  checkImage(gray, width, height);
  if (!Number.isInteger(newWidth) || !Number.isInteger(newHeight) || newWidth < 1 || newHeight < 1) {
    throw new RangeError(`new size must be positive integers, got ${newWidth} x ${newHeight}`);
  }
  if (newWidth === width && newHeight === height) return gray.slice(0, width * height);
  const scaleX = 1 / (newWidth / width), scaleY = 1 / (newHeight / height);
  if (scaleX < 1 || scaleY < 1) {
    throw new RangeError('resizeArea only shrinks: OpenCV enlarges INTER_AREA bilinearly');
  }
  const ix = rint(scaleX), iy = rint(scaleY);
  if (Math.abs(scaleX - ix) < Number.EPSILON && Math.abs(scaleY - iy) < Number.EPSILON) {
    return areaFast(gray, width, height, newWidth, newHeight, ix, iy);
  }
  return areaGeneral(gray, width, height, newWidth, newHeight, scaleX, scaleY);
}

// Coefficients of OpenCV's bit-exact bilinear resize (interpolationLinear, ufixedpoint16:
// 8 fractional bits) along one axis: source index and weight of the second source pixel
// for each destination index, and the range [lo, hi) where both are used (before lo the
// first source pixel is copied, from hi on the last).
function linearAxis(srcSize, dstSize) {
  const scale = 1 / (dstSize / srcSize); // softdouble(1) / inv_scale
  const ofs = new Int32Array(dstSize), w1 = new Int32Array(dstSize);
  let lo = 0, hi = dstSize;
  for (let d = 0; d < dstSize; d++) {
    const f = scale * (d + 0.5) - 0.5;
    const i = Math.floor(f);
    if (i >= 0 && srcSize > 1) {
      if (i < srcSize - 1) {
        ofs[d] = i;
        w1[d] = rint((f - i) * 256);
      } else {
        ofs[d] = srcSize - 1;
        hi = Math.min(hi, d);
      }
    } else {
      lo = Math.max(lo, d + 1);
    }
  }
  return {ofs, w1, lo, hi};
}

/**
 * OpenCV's `resize(..., INTER_LINEAR_EXACT)` of a uint8 one-channel image: the bit-exact
 * fixed-point bilinear resize (8-bit weights, horizontal pass kept in 16 bits, vertical
 * pass rounded from 16 fractional bits), or the 2 x 2 area average where the ratio is
 * exactly 2. This makes the image pyramid of the Haar detector.
 * @param {Uint8Array} gray width * height pixels
 * @returns {Uint8Array} newWidth * newHeight pixels
 */
export function resizeLinearExact(gray, width, height, newWidth, newHeight) {
  if (newWidth === width && newHeight === height) return gray.slice(0, width * height);
  const invX = newWidth / width, invY = newHeight / height;
  const scaleX = 1 / invX, scaleY = 1 / invY;
  const ix = rint(scaleX), iy = rint(scaleY);
  if (Math.abs(scaleX - ix) < Number.EPSILON && Math.abs(scaleY - iy) < Number.EPSILON
      && ix === 2 && iy === 2) {
    return areaFast(gray, width, height, newWidth, newHeight, 2, 2);
  }
  const ax = linearAxis(width, newWidth), ay = linearAxis(height, newHeight);
  const {ofs: xo, w1: xw} = ax;
  const last = width - 1;
  // one source row through the horizontal pass: values with 8 fractional bits
  const hline = (y, out) => {
    const row = y * width;
    const first = gray[row] << 8, end = gray[row + last] << 8;
    let x = 0;
    for (; x < ax.lo; x++) out[x] = first;
    for (; x < ax.hi; x++) {
      const p = row + xo[x], c1 = xw[x];
      out[x] = (256 - c1) * gray[p] + c1 * gray[p + 1];
    }
    for (; x < newWidth; x++) out[x] = end;
  };
  const dst = new Uint8Array(newWidth * newHeight);
  let rowA = new Int32Array(newWidth), rowB = new Int32Array(newWidth);
  let ya = -1, yb = -1;
  const setRow = (dy, line) => {
    const o = dy * newWidth;
    for (let x = 0; x < newWidth; x++) dst[o + x] = Math.min(255, (line[x] + 128) >> 8);
  };
  let dy = 0;
  if (ay.lo > 0) {
    hline(0, rowA); ya = 0;
    for (; dy < ay.lo && dy < newHeight; dy++) setRow(dy, rowA);
  }
  for (; dy < ay.hi; dy++) {
    const y = ay.ofs[dy], c1 = ay.w1[dy], c0 = 256 - c1;
    // keep the two source rows y and y + 1 in rowA and rowB
    if (ya !== y) {
      if (yb === y) {
        const t = rowA; rowA = rowB; rowB = t; ya = y; yb = -1;
      } else {
        hline(y, rowA); ya = y;
      }
    }
    if (yb !== y + 1) { hline(y + 1, rowB); yb = y + 1; }
    const o = dy * newWidth;
    for (let x = 0; x < newWidth; x++) {
      const v = (rowA[x] * c0 + rowB[x] * c1 + 32768) >>> 16;
      dst[o + x] = v > 255 ? 255 : v;
    }
  }
  if (dy < newHeight) {
    hline(height - 1, rowA);
    for (; dy < newHeight; dy++) setRow(dy, rowA);
  }
  return dst;
}

// --------------------------------------------------------------------------- the cascade

/**
 * The detector's structure from the JSON object that
 * `fer_course.faces.cascade_json.cascade_to_json()` makes of an OpenCV Haar cascade
 * (stump-based, upright features): typed arrays of stage sizes and thresholds (OpenCV's
 * stage threshold minus its 1e-5f), stump thresholds and leaf values (float32) and the
 * rectangles and weights of each stump's feature.
 * @param {object} obj the parsed JSON
 * @returns {object} the cascade, for detectFaces and detectMultiScale
 */
export function loadCascade(obj) {
  if (!obj || obj.format !== 'opencv-haar-stumps/1') {
    throw new Error('not a Haar cascade made by fer_course.faces.cascade_json');
  }
  const nStages = obj.stageSizes.length;
  const stageSizes = Int32Array.from(obj.stageSizes);
  const eps = fround(1e-5);
  const stageThresholds = Float64Array.from(obj.stageThresholds, (t) => fround(fround(t) - eps));
  const nStumps = obj.stumps.length / 4;
  let total = 0;
  for (let s = 0; s < nStages; s++) total += stageSizes[s];
  if (total !== nStumps) throw new Error(`the stages name ${total} stumps, ${nStumps} given`);
  const thresholds = new Float64Array(nStumps), left = new Float64Array(nStumps);
  const right = new Float64Array(nStumps);
  // each stump's feature: up to 3 rectangles (x, y, w, h) and their float32 weights
  const rects = new Int32Array(nStumps * 12), weights = new Float64Array(nStumps * 3);
  for (let i = 0; i < nStumps; i++) {
    const f = obj.stumps[4 * i];
    thresholds[i] = fround(obj.stumps[4 * i + 1]);
    left[i] = fround(obj.stumps[4 * i + 2]);
    right[i] = fround(obj.stumps[4 * i + 3]);
    const feature = obj.features[f];
    if (!feature || feature.length % 5 !== 0 || feature.length > 15) {
      throw new Error(`stump ${i} names a missing or malformed feature ${f}`);
    }
    for (let r = 0; r < feature.length / 5; r++) {
      for (let k = 0; k < 4; k++) rects[12 * i + 4 * r + k] = feature[5 * r + k];
      weights[3 * i + r] = fround(feature[5 * r + 4]);
    }
  }
  return {
    width: obj.width, height: obj.height, stageSizes, stageThresholds,
    thresholds, left, right, rects, weights, nStumps,
  };
}

// The list of scales of detectMultiScaleNoGrouping: float32 factors whose window fits.
function cascadeScales(width, height, cascade, scaleFactor, minSize, maxSize) {
  const scales = [];
  const maxW = maxSize > 0 ? maxSize : width, maxH = maxSize > 0 ? maxSize : height;
  for (let factor = 1; ; factor *= scaleFactor) {
    const ww = rint(cascade.width * factor), wh = rint(cascade.height * factor);
    if (ww > maxW || wh > maxH || ww > width || wh > height) break;
    if (ww < minSize || wh < minSize) continue;
    scales.push(fround(factor));
  }
  return scales;
}

/**
 * OpenCV 4's `CascadeClassifier.detectMultiScale(gray, scaleFactor, minNeighbors, 0,
 * (minSize, minSize), (maxSize, maxSize))` for a Haar cascade, on the image as given
 * (no downscale): the image pyramid (INTER_LINEAR_EXACT), the scan, then
 * groupRectangles(rects, minNeighbors, 0.2) when minNeighbors > 0 (else the raw
 * candidates), clipped to the image. Rectangles come in scan order.
 * @param {Uint8Array} gray width * height pixels
 * @param {object} cascade from loadCascade
 * @param {{scaleFactor?: number, minNeighbors?: number, minSize?: number, maxSize?: number}} [options]
 * @returns {{x: number, y: number, w: number, h: number}[]}
 */
export function detectMultiScale(gray, width, height, cascade, options = {}) {
  checkImage(gray, width, height);
  const scaleFactor = options.scaleFactor ?? 1.1;
  const minNeighbors = options.minNeighbors ?? 3;
  const minSize = options.minSize ?? 0, maxSize = options.maxSize ?? 0;
  if (!(scaleFactor > 1)) throw new RangeError(`scaleFactor must be > 1, got ${scaleFactor}`);
  const scales = cascadeScales(width, height, cascade, scaleFactor, minSize, maxSize);
  const found = [];
  if (scales.length > 0) {
    // the stripes of OpenCV's parallel loop: each scale's rows are cut into nStripes
    // stripes of a whole number of steps, which can leave out the last row or so
    const firstW = rint(fround(width / scales[0]));
    const nStripes = Math.ceil(Math.max(firstW + 1 - cascade.width, 0) / 32);
    for (const scale of scales) scanScale(gray, width, height, cascade, scale, nStripes, found);
  }
  const grouped = minNeighbors > 0 ? groupRectangles(found, minNeighbors, 0.2) : found;
  return clipRects(grouped, width, height);
}

// One level of the pyramid: the scaled image, its integral images, and the scan.
function scanScale(gray, width, height, cascade, scale, nStripes, found) {
  const sw = rint(fround(width / scale)), sh = rint(fround(height / scale));
  const image = resizeLinearExact(gray, width, height, sw, sh);
  const stride = sw + 1;
  const sum = new Int32Array(stride * (sh + 1)), sqsum = new Int32Array(stride * (sh + 1));
  for (let y = 0; y < sh; y++) {
    let rs = 0, rq = 0;
    const o = (y + 1) * stride, p = y * stride;
    for (let x = 0; x < sw; x++) {
      const v = image[y * sw + x];
      rs += v;
      rq = (rq + v * v) | 0;
      sum[o + x + 1] = (sum[p + x + 1] + rs) | 0;
      sqsum[o + x + 1] = (sqsum[p + x + 1] + rq) | 0; // OpenCV's int32 wraps around
    }
  }
  const winW = cascade.width, winH = cascade.height;
  const workW = Math.max(sw + 1 - winW, 0), workH = Math.max(sh + 1 - winH, 0);
  const step = scale >= 2 ? 1 : 2;
  const stripe = Math.max(Math.floor((Math.floor(workH / step) + nStripes - 1) / nStripes), 1) * step;
  const yEnd = Math.min(nStripes * stripe, workH);
  // offsets of the variance window (inset by one pixel) and of each stump's rectangles
  const nx = 1, ny = 1, nw = winW - 2, nh = winH - 2;
  const n0 = ny * stride + nx, n1 = n0 + nw, n2 = n0 + nh * stride, n3 = n2 + nw;
  const area = nw * nh;
  const nStumps = cascade.nStumps, rects = cascade.rects;
  const ofs = new Int32Array(nStumps * 12);
  for (let i = 0; i < nStumps; i++) {
    for (let r = 0; r < 3; r++) {
      const b = 12 * i + 4 * r;
      const x = rects[b], y = rects[b + 1], w = rects[b + 2], h = rects[b + 3];
      ofs[b] = y * stride + x;
      ofs[b + 1] = y * stride + x + w;
      ofs[b + 2] = (y + h) * stride + x;
      ofs[b + 3] = (y + h) * stride + x + w;
    }
  }
  const weights = cascade.weights, thresholds = cascade.thresholds;
  const left = cascade.left, right = cascade.right;
  const stageSizes = cascade.stageSizes, stageThresholds = cascade.stageThresholds;
  const nStages = stageSizes.length;
  const winSizeW = rint(fround(winW * scale)), winSizeH = rint(fround(winH * scale));
  for (let y = 0; y < yEnd; y += step) {
    for (let x = 0; x < workW; x += step) {
      const p = y * stride + x;
      const valSum = (sum[p + n0] - sum[p + n1] - sum[p + n2] + sum[p + n3]) | 0;
      const valSq = (sqsum[p + n0] - sqsum[p + n1] - sqsum[p + n2] + sqsum[p + n3]) >>> 0;
      let nf = area * valSq - valSum * valSum;
      if (!(nf > 0)) continue; // OpenCV: window rejected (-1), no skip
      nf = Math.sqrt(nf);
      const inv = fround(1 / nf);
      if (!(area * inv < 0.1)) continue; // too flat a window: rejected
      let result = 1, s = 0;
      for (let stage = 0; stage < nStages; stage++) {
        const end = s + stageSizes[stage];
        let tmp = 0;
        for (; s < end; s++) {
          const b = 12 * s, c = 3 * s;
          let f = fround(fround(weights[c] * ((sum[p + ofs[b]] - sum[p + ofs[b + 1]]
              - sum[p + ofs[b + 2]] + sum[p + ofs[b + 3]]) | 0))
            + fround(weights[c + 1] * ((sum[p + ofs[b + 4]] - sum[p + ofs[b + 5]]
              - sum[p + ofs[b + 6]] + sum[p + ofs[b + 7]]) | 0)));
          const w2 = weights[c + 2];
          if (w2 !== 0) {
            f = fround(f + fround(w2 * ((sum[p + ofs[b + 8]] - sum[p + ofs[b + 9]]
              - sum[p + ofs[b + 10]] + sum[p + ofs[b + 11]]) | 0)));
          }
          tmp += fround(f * inv) < thresholds[s] ? left[s] : right[s];
        }
        if (tmp < stageThresholds[stage]) {
          result = -stage;
          break;
        }
      }
      if (result > 0) {
        found.push({x: rint(fround(x * scale)), y: rint(fround(y * scale)), w: winSizeW, h: winSizeH});
      } else if (result === 0) {
        x += step; // failed the first stage: OpenCV skips the next position
      }
    }
  }
}

// OpenCV's groupRectangles(rects, groupThreshold, eps) without weights.
function groupRectangles(rects, groupThreshold, eps) {
  const n = rects.length;
  if (groupThreshold <= 0 || n === 0) return rects.slice();
  // classes: connected components of the "similar" relation (OpenCV's partition)
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (i) => {
    while (parent[i] !== i) { parent[i] = parent[parent[i]]; i = parent[i]; }
    return i;
  };
  for (let i = 0; i < n; i++) {
    const a = rects[i];
    for (let j = i + 1; j < n; j++) {
      const b = rects[j];
      const delta = eps * (Math.min(a.w, b.w) + Math.min(a.h, b.h)) * 0.5;
      if (Math.abs(a.x - b.x) <= delta && Math.abs(a.y - b.y) <= delta
          && Math.abs(a.x + a.w - b.x - b.w) <= delta && Math.abs(a.y + a.h - b.y - b.h) <= delta) {
        const ra = find(i), rb = find(j);
        if (ra !== rb) parent[rb] = ra;
      }
    }
  }
  const label = new Int32Array(n).fill(-1);
  const sums = [];
  for (let i = 0; i < n; i++) {
    const root = find(i);
    if (label[root] < 0) { label[root] = sums.length; sums.push([0, 0, 0, 0, 0]); }
    const c = sums[label[root]], r = rects[i];
    c[0] += r.x; c[1] += r.y; c[2] += r.w; c[3] += r.h; c[4]++;
  }
  const avg = sums.map(([x, y, w, h, count]) => {
    const s = fround(1 / count);
    return {x: rint(fround(fround(x) * s)), y: rint(fround(fround(y) * s)),
            w: rint(fround(fround(w) * s)), h: rint(fround(fround(h) * s)), n: count};
  });
  const out = [];
  for (let i = 0; i < avg.length; i++) {
    const r1 = avg[i], n1 = r1.n;
    if (n1 <= groupThreshold) continue;
    let inside = false;
    for (let j = 0; j < avg.length && !inside; j++) {
      const r2 = avg[j], n2 = r2.n;
      if (j === i || n2 <= groupThreshold) continue;
      const dx = rint(r2.w * eps), dy = rint(r2.h * eps);
      inside = r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.w <= r2.x + r2.w + dx
        && r1.y + r1.h <= r2.y + r2.h + dy && (n2 > Math.max(3, n1) || n1 < 3);
    }
    if (!inside) out.push({x: r1.x, y: r1.y, w: r1.w, h: r1.h});
  }
  return out;
}

// OpenCV's clipObjects: each rectangle intersected with the image, empty ones dropped.
function clipRects(rects, width, height) {
  const out = [];
  for (const r of rects) {
    const x1 = Math.max(r.x, 0), y1 = Math.max(r.y, 0);
    const x2 = Math.min(r.x + r.w, width), y2 = Math.min(r.y + r.h, height);
    if (x2 > x1 && y2 > y1) out.push({x: x1, y: y1, w: x2 - x1, h: y2 - y1});
  }
  return out;
}

/**
 * The faces of `detect_faces` (fer_course.faces.detect): the gray photo is shrunk with
 * INTER_AREA so that its longer side is at most maxSide (Python's round for the size), the
 * cascade runs on it (detectMultiScale), the boxes are mapped back with Python's round,
 * clipped to the photo and sorted as Python sorts (x, y, w, h) tuples. With minNeighbors 0
 * and a large maxSide these are OpenCV's raw candidates.
 * @param {Uint8Array} gray width * height pixels (toGray's result)
 * @param {object} cascade from loadCascade
 * @param {{scaleFactor?: number, minNeighbors?: number, minSize?: number, maxSide?: number}} [options]
 *   defaults 1.1, 5, 30, 1600 as in detect.py
 * @returns {{x: number, y: number, w: number, h: number}[]}
 */
export function detectFaces(gray, width, height, cascade, options = {}) {
  checkImage(gray, width, height);
  const scaleFactor = options.scaleFactor ?? 1.1;
  const minNeighbors = options.minNeighbors ?? 5;
  const minSize = options.minSize ?? 30;
  const maxSide = options.maxSide ?? 1600;
  if (!(scaleFactor > 1)) throw new RangeError(`scaleFactor must be > 1, got ${scaleFactor}`);
  if (!(maxSide >= 24)) {
    throw new RangeError(`maxSide must be at least the cascade's 24 px window, got ${maxSide}`);
  }
  let small = gray, sw = width, sh = height;
  const longest = Math.max(width, height);
  if (longest > maxSide) {
    const scale = maxSide / longest;
    sw = Math.max(1, rint(width * scale));
    sh = Math.max(1, rint(height * scale));
    small = resizeArea(gray, width, height, sw, sh);
  }
  const found = detectMultiScale(small, sw, sh, cascade, {scaleFactor, minNeighbors, minSize});
  const fx = width / sw, fy = height / sh;
  const boxes = [];
  for (const r of found) {
    const left = Math.max(0, rint(r.x * fx)), top = Math.max(0, rint(r.y * fy));
    const right = Math.min(width, rint((r.x + r.w) * fx));
    const bottom = Math.min(height, rint((r.y + r.h) * fy));
    if (right > left && bottom > top) boxes.push({x: left, y: top, w: right - left, h: bottom - top});
  }
  boxes.sort((a, b) => (a.x - b.x) || (a.y - b.y) || (a.w - b.w) || (a.h - b.h));
  return boxes;
}

// --------------------------------------------------------------------------- cropping

function sinc(x) {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

function lanczos(x) {
  return (x >= -3 && x < 3) ? sinc(x) * sinc(x / 3) : 0;
}

const PRECISION_BITS = 22; // Pillow's 32 - 8 - 2

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the Lanczos filter (support 3):
// per output pixel the first input index, the count and the fixed-point weights.
function lanczosCoeffs(inSize, in0, in1, outSize) {
  let scale = fround(in1 - in0) / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = 3 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2), kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    const ss = 1 / filterScale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const v = lanczos((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0 ? w[x] / ww : w[x];
      kk[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * (1 << PRECISION_BITS))
        : Math.trunc(0.5 + k * (1 << PRECISION_BITS));
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return {bounds, kk, ksize};
}

function clip8(ss) {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : (v > 255 ? 255 : v);
}

// Pillow's Image.resize((size, size), LANCZOS, box) of a gray ("L") image.
function resampleLanczos(gray, width, height, box, xsize, ysize) {
  const [b0, b1, b2, b3] = box.map(fround);
  if (xsize === width && ysize === height && b0 === 0 && b1 === 0 && b2 === xsize && b3 === ysize) {
    return gray.slice(0, width * height);
  }
  const needH = xsize !== width || b0 !== 0 || b2 !== xsize;
  const needV = ysize !== height || b1 !== 0 || b3 !== ysize;
  const hc = lanczosCoeffs(width, b0, b2, xsize), vc = lanczosCoeffs(height, b1, b3, ysize);
  const first = vc.bounds[0];
  const lastRow = vc.bounds[ysize * 2 - 2] + vc.bounds[ysize * 2 - 1];
  let src = gray, srcW = width, yShift = 0;
  const half = 1 << (PRECISION_BITS - 1);
  if (needH) {
    const rows = lastRow - first;
    const tmp = new Uint8Array(xsize * rows);
    for (let yy = 0; yy < rows; yy++) {
      const row = (yy + first) * width;
      for (let xx = 0; xx < xsize; xx++) {
        const xmin = hc.bounds[2 * xx], xmax = hc.bounds[2 * xx + 1], k = xx * hc.ksize;
        let ss = half;
        for (let x = 0; x < xmax; x++) ss += gray[row + x + xmin] * hc.kk[k + x];
        tmp[yy * xsize + xx] = clip8(ss);
      }
    }
    src = tmp; srcW = xsize; yShift = first;
  }
  if (!needV) return needH ? src : gray.slice(0, width * height);
  const out = new Uint8Array(srcW * ysize);
  for (let yy = 0; yy < ysize; yy++) {
    const ymin = vc.bounds[2 * yy] - yShift, ymax = vc.bounds[2 * yy + 1], k = yy * vc.ksize;
    for (let xx = 0; xx < srcW; xx++) {
      let ss = half;
      for (let y = 0; y < ymax; y++) ss += src[(y + ymin) * srcW + xx] * vc.kk[k + y];
      out[yy * srcW + xx] = clip8(ss);
    }
  }
  return out;
}

/**
 * The faces of `crop_faces` (fer_course.faces.detect): each box grows by margin times its
 * width and height (half on each side), is clipped to the photo, and the region is resized
 * to size x size with PIL's Lanczos filter (float box edges, as PIL takes them).
 * @param {Uint8Array} gray width * height pixels
 * @param {({x: number, y: number, w: number, h: number}|number[])[]} boxes
 * @param {number} [margin=0.2]
 * @param {number} [size=48]
 * @returns {Uint8Array} boxes.length * size * size pixels, one face after the other
 */
export function cropFaces(gray, width, height, boxes, margin = 0.2, size = 48) {
  checkImage(gray, width, height);
  if (!Number.isFinite(margin) || margin < 0) throw new RangeError(`margin must be >= 0, got ${margin}`);
  const out = new Uint8Array(boxes.length * size * size);
  boxes.forEach((box, i) => {
    const [x, y, w, h] = Array.isArray(box) ? box : [box.x, box.y, box.w, box.h];
    if (![x, y, w, h].every(Number.isFinite) || w <= 0 || h <= 0) {
      throw new RangeError(`box ${i} needs finite values and a positive width and height`);
    }
    const dx = margin * w / 2, dy = margin * h / 2;
    const region = [Math.max(0, x - dx), Math.max(0, y - dy),
      Math.min(width, x + w + dx), Math.min(height, y + h + dy)];
    if (region[2] <= region[0] || region[3] <= region[1]) {
      throw new RangeError(`box ${i} lies outside the ${width} x ${height} photo`);
    }
    out.set(resampleLanczos(gray, width, height, region, size, size), i * size * size);
  });
  return out;
}
