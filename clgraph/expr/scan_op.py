"""Scan: Theano's symbolic loop, as an op holding its inner graph.

Inputs: the number of steps (an int64 scalar), the sequences, the initial values of the
recurrent outputs, the non-sequences (explicit ones, then the variables the step function
read without being given them: shared variables, outer tensors). The inner graph's inputs
are placeholders for one element of each sequence, the previous value of each recurrent
output and each non-sequence, in that order; its outputs are one step's outputs. The op's
outputs are every step's outputs stacked on a new first axis, in the order computed.

Step t reads element t of each sequence; a backwards scan reads element len - 1 - t, each
sequence from its own last element (Theano reverses a sequence before cutting it to the
number of steps), so sequences longer than the number of steps lose their first elements.

Lowering (lower/scan.py) unrolls the loop per shape signature, so each step's kernels run
straight from the plan; the gradient (`L_op`) is a second Scan running backwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from clgraph.expr import dtypes as D
from clgraph.expr.apply import Apply
from clgraph.expr.graph import FunctionGraph
from clgraph.expr.op import Op
from clgraph.expr.type import TensorType
from clgraph.expr.variable import TensorVariable

__all__ = ["Scan"]


@dataclass(frozen=True, eq=False)
class Scan(Op):
    inner: FunctionGraph = field(default=None, repr=False)  # type: ignore[assignment]
    n_seqs: int = 0
    recurrent: tuple[bool, ...] = ()  # per output: fed back as the next step's input
    go_backwards: bool = False
    # per output: keep only the last step's value (a stack of min(n, 1)); a gradient's
    # sums over the steps need no more (empty: every step's value for every output)
    last_only: tuple[bool, ...] = ()
    # a while loop (Theano's `until`): the last inner output is the step's stop condition
    # (a scalar), stacked like the others. Every one of the n steps is computed (the loop
    # is unrolled before any condition is known); `scan` cuts the results to the steps run.
    until: bool = False
    # Theano's truncate_gradient: the gradient goes back over the last k steps only (-1: all)
    truncate_gradient: int = -1

    # Identity, not the fields: two scans are the same computation only when they are one
    # op (the inner graphs are not compared; the base class's equality would see no fields).
    def __eq__(self, other) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def keeps_last_only(self, k: int) -> bool:
        return bool(self.last_only) and self.last_only[k]

    def element_at(self, t: int, length: int) -> int:
        """The element of a sequence of `length` elements that step `t` reads."""
        return length - 1 - t if self.go_backwards else t

    @property
    def n_states(self) -> int:
        return sum(self.recurrent)

    def split(self, inputs: list) -> tuple:
        """(n_steps, sequences, initial values, non-sequences) of the node's inputs."""
        s, r = self.n_seqs, self.n_states
        return inputs[0], inputs[1:1 + s], inputs[1 + s:1 + s + r], inputs[1 + s + r:]

    def make_node(self, n_steps, *inputs) -> Apply:
        from clgraph.tensor.basic import as_tensor_variable

        n_steps = as_tensor_variable(n_steps)
        if n_steps.ndim != 0 or not D.is_int(n_steps.dtype):
            raise TypeError(f"scan: n_steps must be an integer scalar, got {n_steps.type}")
        inputs = [as_tensor_variable(v) for v in inputs]
        if len(inputs) != len(self.inner.inputs):
            raise TypeError(f"scan: the inner graph takes {len(self.inner.inputs)} inputs, "
                            f"got {len(inputs)}")
        _, seqs, inits, _ = self.split([n_steps] + inputs)
        for seq in seqs:
            if seq.ndim == 0:
                raise TypeError(f"scan: sequence {seq} is a scalar; sequences are iterated "
                                "over their first axis")
        # The number of steps is left unknown in the type even when constant: a rewrite that
        # folds it into a constant must not change the outputs' types.
        outs = [TensorVariable(TensorType(o.dtype, (None, *o.type.shape)))
                for o in self.inner.outputs]
        if self.until and self.inner.outputs[-1].ndim != 0:
            raise TypeError("scan: the stop condition (until) must be a scalar, got "
                            f"{self.inner.outputs[-1].type}")
        for init, ph in zip(inits, self.inner.inputs[self.n_seqs:]):
            if init.dtype != ph.dtype or init.ndim != ph.ndim:
                raise TypeError(f"scan: initial value {init} ({init.type}) does not match "
                                f"the step's input {ph.type}")
        return Apply(self, [n_steps, *inputs], outs)

    def perform(self, node, inputs):
        from clgraph.compile.debugmode import evaluate

        n, seqs, inits, nonseqs = self.split(inputs)
        n = int(n)
        ph = self.inner.inputs
        prev = list(inits)
        stacks: list[list] = [[] for _ in self.inner.outputs]
        for t in range(n):
            values = [s[self.element_at(t, len(s))] for s in seqs] + prev + list(nonseqs)
            outs = evaluate(self.inner, dict(zip(ph, values, strict=True)))
            for k, v in enumerate(outs):
                stacks[k].append(np.asarray(v, dtype=self.inner.outputs[k].dtype))
            prev = [v for v, r in zip(outs, self.recurrent) if r]
        results = []
        for k, out in enumerate(node.outputs):
            if self.keeps_last_only(k):
                stacks[k] = stacks[k][-1:]
            if stacks[k]:
                results.append(np.stack(stacks[k]).astype(out.dtype))
            else:  # no steps: the shape of one step's output is unknown without running it
                results.append(np.zeros((0,) + tuple(d or 0 for d in out.type.shape[1:]),
                                        dtype=out.dtype))
        return results

    def L_op(self, node, grads):
        from clgraph.scan import scan_grad

        return scan_grad(self, node, grads)

    def R_op(self, node, tangents):
        """J v, through the gradient of the loop with every step (a truncated gradient is
        not the Jacobian's transpose; Theano's R_op is exact too)."""
        from dataclasses import replace

        from clgraph.diff.rop import through_l_op
        from clgraph.scan import scan_grad

        exact = replace(self, truncate_gradient=-1)
        return through_l_op(node, tangents, lambda n, g: scan_grad(exact, n, g))

    def __str__(self) -> str:
        return f"Scan{{{len(self.inner.outputs)} output(s)" + \
            (", backwards" if self.go_backwards else "") + (", until}" if self.until else "}")
