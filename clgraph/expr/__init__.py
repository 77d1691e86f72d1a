"""clgraph.expr."""
