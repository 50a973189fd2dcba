// The numerical methods the fits need: Nelder-Mead for the likelihoods (no maintained npm package
// offers a minimiser: fmin was last published in 2016), a bracketed 1-D maximiser for profiles, and
// bisection for the ends of confidence intervals.

export interface Minimum {
  point: number[];
  value: number;
  iterations: number;
  converged: boolean;
}

export interface NelderMeadOptions {
  /** Initial simplex step per coordinate (default: 10% of the start, or 0.1 where it is 0). */
  steps?: readonly number[];
  maxIterations?: number;
  /** Stop when the simplex's values differ by less than this (absolute). */
  tolerance?: number;
}

/**
 * Minimises `f` from `start` with the Nelder-Mead simplex (Lagarias et al.'s standard coefficients),
 * restarting once from the minimum found, as is usual, so that a collapsed simplex cannot stop it
 * early. `f` may return Infinity outside its domain.
 */
export function nelderMead(f: (point: number[]) => number, start: readonly number[], options: NelderMeadOptions = {}): Minimum {
  const first = simplexSearch(f, start, options);
  const second = simplexSearch(f, first.point, options);
  const best = second.value <= first.value ? second : first;
  return { ...best, iterations: first.iterations + second.iterations, converged: first.converged && second.converged };
}

function simplexSearch(f: (point: number[]) => number, start: readonly number[], options: NelderMeadOptions): Minimum {
  const n = start.length;
  const maxIterations = options.maxIterations ?? 400 * n;
  const tolerance = options.tolerance ?? 1e-10;
  const simplex: { point: number[]; value: number }[] = [{ point: [...start], value: f([...start]) }];
  for (let i = 0; i < n; i++) {
    const point = [...start];
    const step = options.steps?.[i] ?? (point[i] !== 0 ? 0.1 * Math.abs(point[i]!) : 0.1);
    point[i] = point[i]! + step;
    simplex.push({ point, value: f(point) });
  }
  let iterations = 0;
  let converged = false;
  for (; iterations < maxIterations; iterations++) {
    simplex.sort((a, b) => a.value - b.value);
    const best = simplex[0]!;
    const worst = simplex[n]!;
    if (Number.isFinite(worst.value) && Math.abs(worst.value - best.value) <= tolerance * (1 + Math.abs(best.value))) {
      converged = true;
      break;
    }
    const centroid = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) centroid[j]! += simplex[i]!.point[j]! / n;
    const along = (t: number) => centroid.map((c, j) => c + t * (worst.point[j]! - c));
    const reflected = along(-1);
    const reflectedValue = f(reflected);
    if (reflectedValue < best.value) {
      const expanded = along(-2);
      const expandedValue = f(expanded);
      simplex[n] = expandedValue < reflectedValue ? { point: expanded, value: expandedValue } : { point: reflected, value: reflectedValue };
    } else if (reflectedValue < simplex[n - 1]!.value) {
      simplex[n] = { point: reflected, value: reflectedValue };
    } else {
      const outside = reflectedValue < worst.value;
      const contracted = along(outside ? -0.5 : 0.5);
      const contractedValue = f(contracted);
      if (contractedValue < (outside ? reflectedValue : worst.value)) {
        simplex[n] = { point: contracted, value: contractedValue };
      } else {
        for (let i = 1; i <= n; i++) {
          const point = simplex[i]!.point.map((x, j) => best.point[j]! + 0.5 * (x - best.point[j]!));
          simplex[i] = { point, value: f(point) };
        }
      }
    }
  }
  simplex.sort((a, b) => a.value - b.value);
  return { point: simplex[0]!.point, value: simplex[0]!.value, iterations, converged };
}

/**
 * The maximum of `f` on [low, high]: a grid scan finds the best cell (profiles can have flat or
 * infinite stretches that defeat a pure bracketing method), golden-section search refines it.
 */
export function maximise1d(f: (x: number) => number, low: number, high: number, gridPoints = 40): { x: number; value: number } {
  let bestIndex = 0;
  let bestValue = -Infinity;
  const step = (high - low) / gridPoints;
  for (let i = 0; i <= gridPoints; i++) {
    const value = f(low + i * step);
    if (value > bestValue) {
      bestValue = value;
      bestIndex = i;
    }
  }
  let a = low + Math.max(0, bestIndex - 1) * step;
  let b = low + Math.min(gridPoints, bestIndex + 1) * step;
  const ratio = (Math.sqrt(5) - 1) / 2;
  let c = b - ratio * (b - a);
  let d = a + ratio * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let i = 0; i < 80 && b - a > 1e-12 * (1 + Math.abs(a)); i++) {
    if (fc > fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - ratio * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + ratio * (b - a);
      fd = f(d);
    }
  }
  const x = fc > fd ? c : d;
  const value = Math.max(fc, fd);
  return value >= bestValue ? { x, value } : { x: low + bestIndex * step, value: bestValue };
}

/** The x in [low, high] where `inside(x)` turns from true to false (or false to true), by bisection. */
export function bisect(inside: (x: number) => boolean, low: number, high: number, resolution: number): number {
  const lowInside = inside(low);
  let a = low;
  let b = high;
  while (b - a > resolution) {
    const middle = a + (b - a) / 2;
    if (middle <= a || middle >= b) break;
    if (inside(middle) === lowInside) a = middle;
    else b = middle;
  }
  return lowInside ? a : b;
}
