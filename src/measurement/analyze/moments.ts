// The sample mean and variance the fits start from and the tests are built on.

export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum / values.length;
}

/** Mean and the unbiased (n - 1) variance. */
export function meanAndVariance(values: ArrayLike<number>): { mean: number; variance: number } {
  const m = mean(values);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i]! - m) ** 2;
  return { mean: m, variance: sum / Math.max(1, values.length - 1) };
}
