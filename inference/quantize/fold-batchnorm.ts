import type { ModelProto } from '../onnx/proto.js';
import { hostTensorOf, tensorProtoOf } from '../onnx/tensor-proto.js';
import { allReads, consumerCounts, initializersByName, nameMinter } from './graph-edit.js';

/** Constant nodes become initializers, so weights exported as Constants are found like any other. */
export function hoistConstants(model: ModelProto): void {
  const graph = model.graph;
  if (!graph) return;
  graph.initializer ??= [];
  const kept = [];
  for (const n of graph.node ?? []) {
    const t =
      n.opType === 'Constant' && !n.domain && n.attribute?.length === 1 ? n.attribute[0]?.t : undefined;
    if (t && n.output?.[0]) graph.initializer.push({ ...t, name: n.output[0] });
    else kept.push(n);
  }
  graph.node = kept;
}

/**
 * Folds each inference-mode BatchNormalization that follows a Conv (the Conv's only reader,
 * every parameter constant) into the Conv's weight and bias, as onnxruntime does when it
 * optimises a model before quantizing: W' = W·a, b' = (b − mean)·a + B with
 * a = scale / √(var + ε) per output channel. Call after {@link hoistConstants}. Returns how
 * many were folded.
 */
export function foldBatchNorms(model: ModelProto): number {
  const graph = model.graph;
  if (!graph) return 0;
  const inits = initializersByName(model);
  const fresh = nameMinter(model);
  const readers = consumerCounts(graph.node ?? []);
  const producer = new Map((graph.node ?? []).flatMap((n) => (n.output ?? []).map((o) => [o, n] as const)));
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const drop = new Set<object>();
  let folded = 0;
  for (const bn of graph.node ?? []) {
    if (bn.opType !== 'BatchNormalization' || bn.domain || (bn.output ?? []).length !== 1) continue;
    const x = bn.input?.[0] ?? '';
    const conv = producer.get(x);
    if (!conv) continue;
    if (conv.opType !== 'Conv' || readers.get(x) !== 1 || outputs.has(x)) continue;
    const params = (bn.input ?? []).slice(1, 5).map((n) => inits.get(n));
    const w = inits.get(conv.input?.[1] ?? '');
    const b = conv.input?.[2] ? inits.get(conv.input[2]) : undefined;
    if (!w || params.some((p) => !p) || (conv.input?.[2] && !b)) continue;
    const [scale, bias, mean, variance] = params.map(
      (p) => hostTensorOf(p as NonNullable<typeof p>).data as Float32Array,
    ) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const epsilon = (bn.attribute ?? []).find((a) => a.name === 'epsilon')?.f ?? 1e-5;
    const weight = hostTensorOf(w);
    const channels = weight.dims[0] as number;
    if (scale.length !== channels) continue;
    const per = (weight.data as Float32Array).length / channels;
    const a = scale.map((s, c) => s / Math.sqrt((variance[c] as number) + epsilon));
    const newW = Float32Array.from(
      weight.data as Float32Array,
      (v, i) => v * (a[Math.floor(i / per)] as number),
    );
    const oldB = b ? (hostTensorOf(b).data as Float32Array) : new Float32Array(channels);
    const newB = Float32Array.from(
      a,
      (ac, c) => ((oldB[c] as number) - (mean[c] as number)) * ac + (bias[c] as number),
    );
    const [wName, bName] = [
      fresh(`${conv.input?.[1]}_bn_folded`),
      fresh(`${conv.name || 'conv'}_bias_bn_folded`),
    ];
    graph.initializer?.push(
      tensorProtoOf(wName, { dtype: 'float32', dims: weight.dims, data: newW }),
      tensorProtoOf(bName, { dtype: 'float32', dims: [channels], data: newB }),
    );
    conv.input = [conv.input?.[0] ?? '', wName, bName];
    conv.output = [bn.output?.[0] ?? ''];
    drop.add(bn);
    folded++;
  }
  graph.node = (graph.node ?? []).filter((n) => !drop.has(n));
  const read = allReads(graph.node ?? []);
  const inputs = new Set((graph.input ?? []).map((i) => i.name ?? ''));
  graph.initializer = (graph.initializer ?? []).filter(
    (t) => read.has(t.name ?? '') || inputs.has(t.name ?? ''),
  );
  return folded;
}
