import { trainableTensors } from '../../federated/index.js';

/**
 * The tensors a task's updates carry when it fine-tunes part of the model: the trainable
 * layers' tensors in model order (fl-core's `trainableTensors` of the task's topology), or
 * null when that is every tensor (or the topology is not one the trainer reads: the full
 * model travels, as before fine-tuning existed).
 */
export function updateTensorNames(spec: {
  topology: Record<string, unknown>;
  shapes: ReadonlyArray<{ name: string }>;
}): string[] | null {
  let names: string[];
  try {
    names = trainableTensors(spec.topology).map((t) => t.name);
  } catch {
    return null;
  }
  const known = new Set(spec.shapes.map((s) => s.name));
  if (names.length === spec.shapes.length || !names.every((n) => known.has(n))) return null;
  return names;
}

/** `shapes` restricted to `names` (null: all of them). */
export function updateShapes<T extends { name: string }>(shapes: readonly T[], names: string[] | null): T[] {
  if (names === null) return [...shapes];
  const wanted = new Set(names);
  return shapes.filter((s) => wanted.has(s.name));
}
