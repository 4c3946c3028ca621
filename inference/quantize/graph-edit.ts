import type { INodeProto, ITensorProto, ModelProto } from '../onnx/proto.js';

/** Names already used in a graph (values, initializers, nodes), for minting fresh ones. */
export function nameMinter(model: ModelProto): (base: string) => string {
  const graph = model.graph;
  const used = new Set<string>();
  for (const t of graph?.initializer ?? []) used.add(t.name ?? '');
  for (const v of [...(graph?.input ?? []), ...(graph?.output ?? []), ...(graph?.valueInfo ?? [])])
    used.add(v.name ?? '');
  for (const n of graph?.node ?? []) {
    used.add(n.name ?? '');
    for (const o of n.output ?? []) used.add(o);
  }
  return (base: string) => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
}

/** The graph's initializers by name. */
export function initializersByName(model: ModelProto): Map<string, ITensorProto> {
  return new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
}

/** How many nodes read each value (an initializer shared by two ops is quantized once per reader). */
export function consumerCounts(nodes: readonly INodeProto[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of nodes) for (const i of n.input ?? []) counts.set(i, (counts.get(i) ?? 0) + 1);
  return counts;
}

/** An integer attribute of a node, or `fallback` when absent. */
export function intAttribute(node: INodeProto, name: string, fallback: number): number {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  if (!a || a.i === null || a.i === undefined) return fallback;
  return typeof a.i === 'number' ? a.i : a.i.toNumber();
}

/** The default-domain opset the model imports (0 when none). */
export function defaultOpset(model: ModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain);
  const v = entry?.version;
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** Every value name read anywhere in a graph, its subgraphs included. */
export function allReads(nodes: readonly INodeProto[]): Set<string> {
  const reads = new Set<string>();
  const visit = (list: readonly INodeProto[]) => {
    for (const n of list) {
      for (const i of n.input ?? []) reads.add(i);
      for (const a of n.attribute ?? []) {
        for (const g of [a.g, ...(a.graphs ?? [])]) {
          if (!g) continue;
          visit(g.node ?? []);
          for (const o of g.output ?? []) reads.add(o.name ?? '');
        }
      }
    }
  };
  visit(nodes);
  return reads;
}
