/**
 * Reading a node's attributes by name with their ONNX defaults, and making nodes and attributes for the
 * nodes the rewrites insert. Attribute values read from a parsed model are int64 strings (see
 * `parseModel`); these helpers hand out numbers.
 */
import { ATTRIBUTE_TYPE, type OnnxAttribute, type OnnxNode, type OnnxTensor } from '../onnx/onnx-proto.ts';

/** The attribute called `name`, if the node has it. */
export function findAttribute(node: OnnxNode, name: string): OnnxAttribute | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

/** An INT attribute, or `fallback` when absent. */
export function intAttribute(node: OnnxNode, name: string, fallback: number): number {
  const attribute = findAttribute(node, name);
  return attribute?.i === undefined ? fallback : Number(attribute.i);
}

/** A FLOAT attribute, or `fallback` when absent. */
export function floatAttribute(node: OnnxNode, name: string, fallback: number): number {
  return findAttribute(node, name)?.f ?? fallback;
}

/** An INTS attribute, or undefined when absent. */
export function intsAttribute(node: OnnxNode, name: string): number[] | undefined {
  const attribute = findAttribute(node, name);
  return attribute ? (attribute.ints ?? []).map(Number) : undefined;
}

export const intAttr = (name: string, value: number): OnnxAttribute => ({ name, type: ATTRIBUTE_TYPE.INT, i: value });
export const floatAttr = (name: string, value: number): OnnxAttribute => ({ name, type: ATTRIBUTE_TYPE.FLOAT, f: value });
export const intsAttr = (name: string, value: readonly number[]): OnnxAttribute => ({ name, type: ATTRIBUTE_TYPE.INTS, ints: [...value] });
export const tensorAttr = (name: string, value: OnnxTensor): OnnxAttribute => ({ name, type: ATTRIBUTE_TYPE.TENSOR, t: value });

/** A node of the default domain, or of `domain`. */
export function makeNode(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  name: string,
  attributes: OnnxAttribute[] = [],
  domain?: string,
): OnnxNode {
  return { input: [...inputs], output: [...outputs], name, op_type: opType, attribute: attributes, ...(domain ? { domain } : {}) };
}

/** True for the ONNX default domain, which models spell "" or "ai.onnx". */
export function isDefaultDomain(node: OnnxNode): boolean {
  const domain = node.domain ?? '';
  return domain === '' || domain === 'ai.onnx';
}
