import { describe, expect, it } from 'vitest';
import { GraphBuilder, int } from '../onnx/graph-builder.ts';
import { DATA_TYPE, parseModel } from '../onnx/onnx-proto.ts';
import { allGraphs } from './graph-scope.ts';
import { ifGraph, loopGraph, patchModel } from './test-graphs.ts';
import { inferTypes, tensorOf } from './value-types.ts';

describe('inferTypes', () => {
  it('follows operator rules: Shape and ArgMax give int64, comparisons bool, Cast its `to`, Where its branches, TopK two types', () => {
    const g = new GraphBuilder('types');
    const x = g.input('x', 'float32', [2, 3]);
    const shape = g.op('Shape', [x], {}, 'shape');
    g.op('Cast', [shape], { to: int(1) }, 'shape_float');
    const less = g.op('Less', [x, g.initializer('zero', 'float32', [], Float32Array.of(0))], {}, 'less');
    g.op('Where', [less, g.initializer('k', 'int32', [], Int32Array.of(1)), g.initializer('j', 'int32', [], Int32Array.of(2))], {}, 'where');
    g.node('TopK', [x, g.initializer('two', 'int64', [1], BigInt64Array.of(2n))], {}, ['values', 'indices']);
    g.op('ArgMax', [x], {}, 'argmax');
    g.op('Relu', [x], {}, 'relu');
    g.output('relu', 'float32', [2, 3]);
    const model = parseModel(g.build({ docString: '' }));
    const types = inferTypes(model).get(model.graph!)!;
    expect(Object.fromEntries(['shape', 'shape_float', 'less', 'where', 'values', 'indices', 'argmax', 'relu'].map((n) => [n, types.get(n)?.elem]))).toEqual({
      shape: DATA_TYPE.INT64,
      shape_float: DATA_TYPE.FLOAT,
      less: DATA_TYPE.BOOL,
      where: DATA_TYPE.INT32,
      values: DATA_TYPE.FLOAT,
      indices: DATA_TYPE.INT64,
      argmax: DATA_TYPE.INT64,
      relu: DATA_TYPE.FLOAT,
    });
  });

  it('takes If outputs from the branches and Loop bodies their inputs from the node; outer values are visible inside', () => {
    const branches = parseModel(ifGraph());
    const scopes = inferTypes(branches);
    expect(scopes.get(branches.graph!)!.get('y')).toEqual(tensorOf(DATA_TYPE.FLOAT));
    const thenBranch = allGraphs(branches)[1]!;
    expect(scopes.get(thenBranch)!.get('x')).toEqual(tensorOf(DATA_TYPE.FLOAT)); // From the outer graph.

    const untyped = parseModel(
      patchModel(loopGraph(), (m) => {
        for (const input of m.graph!.node!.at(-1)!.attribute![0]!.g!.input!) delete input.type;
      }),
    );
    const body = allGraphs(untyped)[1]!;
    const types = inferTypes(untyped).get(body)!;
    expect(['i', 'cond_in', 'h', 'h_next'].map((n) => types.get(n)?.elem)).toEqual([DATA_TYPE.INT64, DATA_TYPE.BOOL, DATA_TYPE.FLOAT, DATA_TYPE.FLOAT]);
  });

  it('uses declared value_info for operators of other domains, and guesses their first input type otherwise', () => {
    const g = new GraphBuilder('custom');
    const x = g.input('x', 'float32', [2]);
    g.op('Relu', [x], {}, 'a');
    g.op('Relu', [x], {}, 'b');
    g.op('Relu', [x], {}, 'c');
    g.output('a', 'float32', [2]);
    const model = parseModel(
      patchModel(g.build({ docString: '' }), (m) => {
        for (const node of m.graph!.node!) Object.assign(node, { op_type: 'Tokenize', domain: 'custom.ops' });
        m.graph!.value_info = [{ name: 'b', type: { tensor_type: { elem_type: DATA_TYPE.INT64 } } }];
      }),
    );
    const types = inferTypes(model).get(model.graph!)!;
    expect(types.get('a')).toEqual(tensorOf(DATA_TYPE.FLOAT));
    expect(types.get('b')).toEqual(tensorOf(DATA_TYPE.INT64));
    expect(types.get('c')).toEqual(tensorOf(DATA_TYPE.FLOAT)); // Undeclared: its first input's type.
  });
});
