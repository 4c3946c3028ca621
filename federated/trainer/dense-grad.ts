import type { NeededGrads } from './conv-grad.js';
import type { Tf } from './tf.js';

type Tensor = ReturnType<Tf['tensor']>;

/**
 * `h · kernel` ([n, in] × [in, out]) for training, forward and gradients written as plain
 * products of explicitly transposed operands. TF.js's own gradient multiplies with
 * `transposeA` / `transposeB`, which the WASM backend runs outside XNNPACK (about 10× slower),
 * and its XNNPACK product packs its second operand anew for every new tensor (the kernel
 * changes every step), so each product keeps the large operand first: value
 * (kernelᵀ · hᵀ)ᵀ, input gradient (kernel · dyᵀ)ᵀ, kernel gradient hᵀ · dy. The same sums as
 * TF.js's, in another order.
 */
export function denseMatMul(tf: Tf, h: Tensor, kernel: Tensor, need: NeededGrads): Tensor {
  const op = tf.customGrad((input, weights, save) => {
    (save as (t: Tensor[]) => void)([input as Tensor, weights as Tensor]);
    return {
      value: tf.transpose(tf.matMul(tf.transpose(weights as Tensor), tf.transpose(input as Tensor))),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [x, w] = saved as [Tensor, Tensor];
        const dx = need.input ? tf.transpose(tf.matMul(w, tf.transpose(dy))) : tf.zerosLike(x);
        const dw = need.kernel ? tf.matMul(tf.transpose(x), dy) : tf.zerosLike(w);
        return [dx, dw];
      },
    };
  });
  return op(h, kernel) as Tensor;
}
