/**
 * What a rewrite leaves behind: weights no node reads any more, the Constant and Transpose nodes that fed
 * them, and value_info entries of values that are gone. Only names the rewrite itself stopped reading are
 * considered, so anything else in a foreign model (dead branches its exporter left) stays as it was. Also
 * the IR < 4 rule that every initializer is listed among the graph inputs.
 */
import { DATA_TYPE, type OnnxGraph, type OnnxModel, type OnnxTensor, type OnnxValueInfo } from '../onnx/onnx-proto.ts';
import { allGraphs, readCounts } from './graph-scope.ts';

/** Ops whose only effect is their output, so a node whose outputs nobody reads can go. */
const PURE_FEEDERS = new Set(['Constant', 'Transpose', 'Identity', 'Cast']);

/**
 * Removes, among `released` (names the rewrite stopped reading), the initializers nobody reads any more and
 * the pure nodes (Constant, Transpose, Identity, Cast) producing them, then what those nodes read, and so
 * on. Returns the names removed.
 */
export function removeUnread(model: OnnxModel, released: Iterable<string>): Set<string> {
  const pending = new Set(released);
  const removed = new Set<string>();
  while (pending.size > 0) {
    const counts = readCounts(model);
    const next = new Set<string>();
    for (const graph of allGraphs(model)) {
      const keepTensor = (t: OnnxTensor): boolean => !(t.name && pending.has(t.name) && !counts.get(t.name));
      const before = graph.initializer ?? [];
      graph.initializer = before.filter(keepTensor);
      for (const t of before) if (!keepTensor(t)) removed.add(t.name!);
      graph.node = (graph.node ?? []).filter((node) => {
        const outputs = (node.output ?? []).filter(Boolean);
        const dead = PURE_FEEDERS.has(node.op_type ?? '') && outputs.length > 0 && outputs.every((o) => pending.has(o) && !counts.get(o));
        if (!dead) return true;
        for (const o of outputs) removed.add(o);
        for (const i of node.input ?? []) if (i) next.add(i);
        return false;
      });
    }
    pending.clear();
    for (const name of next) pending.add(name);
  }
  for (const graph of allGraphs(model)) {
    graph.value_info = (graph.value_info ?? []).filter((v) => !(v.name && removed.has(v.name)));
    // IR < 4 lists initializers among the inputs; a removed initializer leaves no input behind.
    graph.input = (graph.input ?? []).filter((v) => !(v.name && removed.has(v.name) && !defines(graph, v.name)));
  }
  return removed;
}

function defines(graph: OnnxGraph, name: string): boolean {
  return (graph.initializer ?? []).some((t) => t.name === name);
}

/** IR versions before 4 require every initializer to appear among the graph inputs; adds those missing. */
export function listInitializersAsInputs(model: OnnxModel): void {
  if (Number(model.ir_version ?? 0) >= 4 || !model.graph) return;
  const graph = model.graph;
  const inputs = new Set((graph.input ?? []).map((v) => v.name));
  for (const tensor of graph.initializer ?? []) {
    if (tensor.name && !inputs.has(tensor.name)) graph.input = [...(graph.input ?? []), initializerValueInfo(tensor)];
  }
}

function initializerValueInfo(tensor: OnnxTensor): OnnxValueInfo {
  return {
    name: tensor.name!,
    type: { tensor_type: { elem_type: tensor.data_type ?? DATA_TYPE.FLOAT, shape: { dim: (tensor.dims ?? []).map((d) => ({ dim_value: d })) } } },
  };
}
