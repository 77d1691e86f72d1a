"""compile/: function(), modes and compiled-function objects."""
