"""Lowerings of the indexing and array ops (issue 3), merged into lower.LOWERINGS."""

from __future__ import annotations

from clgraph.expr.advanced import AdvancedIncSubtensor, AdvancedSubtensor
from clgraph.expr.array_ops import Alloc, ARange, CumOp, Rebroadcast, Sort, SplitCheck
from clgraph.expr.masks import Nonzero, RepeatIndices
from clgraph.lower.advanced import AdvancedIncSubtensorStep, AdvancedSubtensorStep
from clgraph.lower.array_ops import AllocStep, ARangeStep, CumStep, SortStep
from clgraph.lower.masks import NonzeroStep, RepeatIndicesStep
from clgraph.lower.views import ViewStep

ARRAY_LOWERINGS: dict = {
    AdvancedSubtensor: AdvancedSubtensorStep,
    AdvancedIncSubtensor: AdvancedIncSubtensorStep,
    ARange: ARangeStep, Alloc: AllocStep, Rebroadcast: ViewStep, CumOp: CumStep, Sort: SortStep,
    SplitCheck: ViewStep,  # checks split's sizes when a call is prepared
    Nonzero: NonzeroStep, RepeatIndices: RepeatIndicesStep,  # host sync points (masks.py)
}
