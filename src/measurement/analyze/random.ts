// Seeded random numbers, so that every bootstrap (and so every printed p-value) is the same for the
// same input: pure-rand's Mersenne Twister, wrapped as a function returning uniforms in (0, 1).
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { mersenne } from 'pure-rand/generator/mersenne';

/** Uniform numbers in (0, 1): never exactly 0, so that inverse CDFs stay finite. */
export type Uniform = () => number;

export function seededUniform(seed: number): Uniform {
  const generator = mersenne(seed >>> 0);
  return () => {
    let value = 0;
    while (value === 0) value = uniformFloat64(generator);
    return value;
  };
}
