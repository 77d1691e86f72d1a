"""clgraph.runtime."""
