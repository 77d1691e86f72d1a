"""clgraph.diff."""
