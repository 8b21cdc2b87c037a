/**
 * Where names live in an ONNX model with nested graphs. A node of an If, Loop or Scan body may read any value
 * of the graphs around it, so finding "the tensor called W" means looking in the body, then outward. Sibling
 * bodies (an If's two branches) may reuse a name, so lookups go through a chain of scopes, never through one
 * model-wide table. Also here: counting every reader of a name (nodes in any graph, graph outputs, training
 * graphs), and handing out names no graph uses yet.
 */
import type { OnnxAttribute, OnnxGraph, OnnxModel, OnnxNode, OnnxTensor } from '../onnx/onnx-proto.ts';
import { isDefaultDomain } from './node-attributes.ts';

/** The graphs held by a node's attributes (an If's branches, a Loop's or Scan's body). */
export function subgraphs(node: OnnxNode): OnnxGraph[] {
  const out: OnnxGraph[] = [];
  for (const attribute of node.attribute ?? []) out.push(...attributeGraphs(attribute));
  return out;
}

function attributeGraphs(attribute: OnnxAttribute): OnnxGraph[] {
  return [...(attribute.g ? [attribute.g] : []), ...(attribute.graphs ?? [])];
}

/** Every graph of the model, the main graph first, then nested bodies depth first. */
export function allGraphs(model: OnnxModel): OnnxGraph[] {
  const out: OnnxGraph[] = [];
  const visit = (graph: OnnxGraph): void => {
    out.push(graph);
    for (const node of graph.node ?? []) for (const sub of subgraphs(node)) visit(sub);
  };
  if (model.graph) visit(model.graph);
  for (const info of model.training_info ?? []) {
    if (info.initialization) visit(info.initialization);
    if (info.algorithm) visit(info.algorithm);
  }
  return out;
}

/**
 * How many times each name is read: as a node input in any graph (the main graph, bodies, training graphs)
 * or as a graph output. A name reused by sibling bodies counts once per reader, which only ever makes a
 * value look more used than it is (so it is kept).
 */
export function readCounts(model: OnnxModel): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (name: string | undefined): void => {
    if (name) counts.set(name, (counts.get(name) ?? 0) + 1);
  };
  for (const graph of allGraphs(model)) {
    for (const node of graph.node ?? []) for (const input of node.input ?? []) add(input);
    for (const output of graph.output ?? []) add(output.name);
  }
  for (const info of model.training_info ?? [])
    for (const binding of [...(info.initialization_binding ?? []), ...(info.update_binding ?? [])]) add(binding.value);
  return counts;
}

/** Hands out value and node names that no graph of the model uses, derived from a readable base. */
export class NameAllocator {
  private readonly taken = new Set<string>();

  constructor(model: OnnxModel) {
    for (const graph of allGraphs(model)) {
      for (const value of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.value_info ?? [])]) this.reserve(value.name);
      for (const tensor of graph.initializer ?? []) this.reserve(tensor.name);
      for (const sparse of graph.sparse_initializer ?? []) this.reserve(sparse.values?.name);
      for (const node of graph.node ?? []) {
        this.reserve(node.name);
        for (const name of [...(node.input ?? []), ...(node.output ?? [])]) this.reserve(name);
      }
    }
  }

  /** `base` itself when free, else `base_1`, `base_2`... The name is taken from then on. */
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.taken.has(name); i++) name = `${base}_${i}`;
    this.taken.add(name);
    return name;
  }

  private reserve(name: string | undefined): void {
    if (name) this.taken.add(name);
  }
}

/** A constant tensor found by name: an initializer or the `value` of a Constant node. */
export interface ConstantSource {
  tensor: OnnxTensor;
  /** The graph that holds it. */
  owner: GraphScope;
  /** The Constant node, when the tensor is one's value. */
  node?: OnnxNode;
}

/** The node that produces a value, and the scope it is in. */
export interface Producer {
  node: OnnxNode;
  scope: GraphScope;
}

/** One graph's names, with the enclosing graph's scope as parent. */
export class GraphScope {
  private readonly initializers = new Map<string, OnnxTensor>();
  private readonly producers = new Map<string, OnnxNode>();
  private readonly inputs = new Set<string>();

  /**
   * @param overridable initializer names that are also graph inputs of this graph (a caller may feed them),
   *   so they are not constants.
   */
  constructor(
    readonly graph: OnnxGraph,
    readonly parent?: GraphScope,
    overridable: ReadonlySet<string> = new Set(),
  ) {
    for (const input of graph.input ?? []) if (input.name) this.inputs.add(input.name);
    for (const tensor of graph.initializer ?? []) {
      if (!tensor.name) continue;
      this.initializers.set(tensor.name, tensor);
      if (!overridable.has(tensor.name)) this.inputs.delete(tensor.name);
    }
    for (const node of graph.node ?? []) for (const output of node.output ?? []) if (output) this.producers.set(output, node);
  }

  /** The constant called `name` as seen from this graph, or undefined when it is computed or fed. */
  constant(name: string): ConstantSource | undefined {
    if (this.inputs.has(name)) return undefined;
    const tensor = this.initializers.get(name);
    if (tensor) return { tensor, owner: this };
    const node = this.producers.get(name);
    if (node) {
      if (node.op_type !== 'Constant' || !isDefaultDomain(node)) return undefined;
      const value = (node.attribute ?? []).find((a) => a.name === 'value')?.t;
      return value ? { tensor: value, owner: this, node } : undefined;
    }
    return this.parent?.constant(name);
  }

  /** The node producing `name`, looking outward; undefined for graph inputs and initializers. */
  producer(name: string): Producer | undefined {
    if (this.inputs.has(name) || this.initializers.has(name)) return undefined;
    const node = this.producers.get(name);
    if (node) return { node, scope: this };
    return this.parent?.producer(name);
  }
}
