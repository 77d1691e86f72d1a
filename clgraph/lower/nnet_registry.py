"""Op type -> Step for the neural-network ops (softmax, picks, conv, pool, random)."""

from __future__ import annotations

from clgraph.expr.conv import (
    AvgPoolGrad,
    Conv2d,
    Conv2dGradInputs,
    Conv2dGradWeights,
    MaxPoolGrad,
    MaxPoolGradGrad,
    Pool2d,
)
from clgraph.expr.nnet import (
    RowPick,
    RowPickGrad,
    Softmax,
    SoftmaxXent,
    SoftmaxXentGrad,
    SoftmaxXentWithGrad,
)
from clgraph.expr.random import PhiloxRandom
from clgraph.lower.conv import (
    Conv2dGradInputsStep,
    Conv2dGradWeightsStep,
    Conv2dStep,
    PoolStep,
)
from clgraph.lower.nnet import RowPickStep, SoftmaxStep, XentStep
from clgraph.lower.random import PhiloxStep

NNET_LOWERINGS: dict = {
    Softmax: SoftmaxStep, RowPick: RowPickStep, RowPickGrad: RowPickStep,
    SoftmaxXent: XentStep, SoftmaxXentGrad: XentStep, SoftmaxXentWithGrad: XentStep,
    PhiloxRandom: PhiloxStep,
    Conv2d: Conv2dStep, Conv2dGradInputs: Conv2dGradInputsStep,
    Conv2dGradWeights: Conv2dGradWeightsStep,
    Pool2d: PoolStep, MaxPoolGrad: PoolStep, AvgPoolGrad: PoolStep, MaxPoolGradGrad: PoolStep,
}
