import type { Tf } from './tf.js';

type Tensor = ReturnType<Tf['tensor']>;
type Pads = [[number, number], [number, number], [number, number], [number, number]];

/** Which gradients of a layer's product the step uses (the others are returned as zeros). */
export interface NeededGrads {
  /** The gradient of the layer's input: false when no layer below it has trained weights. */
  input: boolean;
  /** The gradient of the kernel: false when the layer is frozen. */
  kernel: boolean;
}

/**
 * A stride-1 2-D convolution (channels-last, `top`/`bottom`/`left`/`right` zero padding)
 * whose forward pass and both gradients are forward convolutions, the one convolution kernel
 * every TF.js backend has and the WASM backend runs on XNNPACK. The WASM backend has no
 * Conv2D filter gradient and its input gradient (Conv2DBackpropInput) is a plain loop about
 * 7× slower than XNNPACK on the MNIST CNN's second layer, so:
 * - input gradient: the output gradient, padded by kh−1−top above (and so on), convolved with
 *   the kernel flipped in both spatial axes and with its channel axes swapped;
 * - kernel gradient: the input with channels as the batch and the batch as channels
 *   ([C, H, W, N]), convolved with the output gradient laid out as a filter ([oh, ow, N, F]),
 *   which sums over batch and positions and gives [C, kh, kw, F], transposed to the kernel's
 *   [kh, kw, C, F].
 * Both are the exact sums of the convolution's gradient; only their summation order differs.
 */
export function conv2dUnitStride(
  tf: Tf,
  x: Tensor,
  kernel: Tensor,
  pads: { top: number; bottom: number; left: number; right: number },
  need: NeededGrads,
): Tensor {
  const { top, bottom, left, right } = pads;
  const forwardPads: Pads = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  const op = tf.customGrad((input, filter, save) => {
    (save as (t: Tensor[]) => void)([input as Tensor, filter as Tensor]);
    const value = tf.conv2d(input as never, filter as never, 1, forwardPads) as Tensor;
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xs, w] = saved as [Tensor, Tensor];
        const [kh, kw, c, f] = w.shape as [number, number, number, number];
        // Flipping both spatial axes reverses the kh·kw taps in order; one axis of a 2-D view
        // reverses faster on the WASM backend than two of the 4-D kernel.
        const flipped = () => tf.reshape(tf.reverse(tf.reshape(w, [kh * kw, c * f]), 0), [kh, kw, c, f]);
        const dx = need.input
          ? (tf.conv2d(dy as never, tf.transpose(flipped(), [0, 1, 3, 2]) as never, 1, [
              [0, 0],
              [kh - 1 - top, kh - 1 - bottom],
              [kw - 1 - left, kw - 1 - right],
              [0, 0],
            ]) as Tensor)
          : tf.zerosLike(xs);
        const dw = need.kernel
          ? tf.transpose(
              tf.conv2d(
                tf.transpose(xs, [3, 1, 2, 0]) as never,
                tf.transpose(dy, [1, 2, 0, 3]) as never,
                1,
                forwardPads,
              ),
              [1, 2, 0, 3],
            )
          : tf.zerosLike(w);
        return [dx, dw];
      },
    };
  });
  return op(x, kernel) as Tensor;
}
