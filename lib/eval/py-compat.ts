/**
 * Reproductions of numpy / Python numerics that the reference evaluators' outputs depend on, so that
 * our numbers and printed text match theirs exactly.
 */

/**
 * Python's '{:.{digits}f}' for a double: correctly rounded, ties to even. JS toFixed rounds exact ties
 * up (0.0625 -> '0.063' where Python prints '0.062'). A double is exactly halfway between two
 * `digits`-decimals only if it is odd/2^(digits+1), so those are the only values corrected here.
 */
export function formatFixed(x: number, digits: number): string {
  const scaled = x * 2 ** (digits + 1);
  if (Number.isInteger(scaled) && Math.abs(scaled % 2) === 1 && Math.abs(scaled) < 2 ** 52) {
    const units = Math.abs(x) * 10 ** digits; // exactly k + 0.5
    let rounded = Math.floor(units);
    if (rounded % 2 === 1) rounded += 1;
    const text = (rounded / 10 ** digits).toFixed(digits);
    return x < 0 ? '-' + text : text;
  }
  return x.toFixed(digits);
}

/**
 * Sum of buf[start .. start+n) in numpy's pairwise order for one inner-loop call of np.add.reduce on
 * float64 (8 accumulators up to 128 elements, halving above).
 */
export function numpySum(buf: Float64Array, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += buf[start + i];
    return res;
  }
  if (n <= 128) {
    const r = [buf[start], buf[start + 1], buf[start + 2], buf[start + 3], buf[start + 4], buf[start + 5], buf[start + 6], buf[start + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] += buf[start + i + j];
    }
    let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < n; i++) res += buf[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return numpySum(buf, start, n2) + numpySum(buf, start + n2, n - n2);
}

/**
 * np.sum of a contiguous float64 array as numpy computes it: the reduction iterator hands the inner
 * loop blocks of at most 8192 elements (its buffer size), each summed pairwise, added in sequence. With
 * this the summary means agree with np.mean to the last bit (checked on every reference case).
 */
export function numpySumChunked(buf: Float64Array, n: number): number {
  let res = 0;
  for (let s = 0; s < n; s += 8192) res += numpySum(buf, s, Math.min(8192, n - s));
  return res;
}
