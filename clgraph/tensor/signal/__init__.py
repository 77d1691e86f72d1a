"""`T.signal`: pooling (`T.signal.pool.pool_2d`)."""

from clgraph.tensor.signal import pool  # noqa: F401
