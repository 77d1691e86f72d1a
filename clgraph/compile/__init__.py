"""compile/: function(), modes and compiled-function objects."""

from clgraph.compile.io import In, Out, Param
from clgraph.compile.mode import DebugMode, Mode, NanGuardMode

__all__ = ["DebugMode", "In", "Mode", "NanGuardMode", "Out", "Param"]
