"""clgraph.lower."""
