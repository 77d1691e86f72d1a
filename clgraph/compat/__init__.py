"""Compatibility layers that let programs written for other libraries run on clgraph.

`clgraph.compat.theano`: importing it (or calling `clgraph.compat.theano.install()`)
registers `theano`, `theano.tensor`, `theano.tensor.nnet`, `theano.tensor.signal.pool`,
`theano.ifelse`, `theano.printing`, `theano.gradient`, `theano.sandbox.rng_mrg`,
`theano.tensor.shared_randomstreams`, `theano.compile` (`mode`, `nanguardmode`,
`debugmode`) and `theano.config` in `sys.modules`, so that a Theano script runs on clgraph
with that one import added (API.md "Theano programs unchanged"). `uninstall()` removes
them again.
"""
