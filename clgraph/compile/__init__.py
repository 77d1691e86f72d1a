"""compile/: function(), modes and compiled-function objects."""

from clgraph.compile.mode import DebugMode, Mode, NanGuardMode

__all__ = ["DebugMode", "Mode", "NanGuardMode"]
