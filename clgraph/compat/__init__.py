"""clgraph.compat."""
