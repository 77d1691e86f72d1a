"""Command line: `python -m clgraph info` shows devices and flags; `demo` runs a small example.

`info` is the first thing to run when something is wrong with the OpenCL setup, so it prints
plain messages with the fix instead of tracebacks.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO


def _gib(nbytes: int) -> str:
    return f"{nbytes / 2**30:.1f} GiB"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def info(out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print every OpenCL device, the chosen one and why, the compiledir and all flags."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    from clgraph.config import config
    from clgraph.runtime.device import DeviceInfo, NoDeviceError, get_context, list_devices

    status = 0
    try:
        entries = list_devices()
    except NoDeviceError as exc:
        print(f"clgraph: {exc}", file=err)
        entries, status = [], 1
    chosen = None
    if entries:
        try:
            chosen = get_context()
        except NoDeviceError as exc:
            print(f"clgraph: {exc}", file=err)
            status = 1
    elif status == 0:
        print(
            "clgraph: an OpenCL platform is installed but it offers no device. clgraph needs an "
            "OpenCL driver. For the CPU driver run: pip install pocl-binary-distribution",
            file=err,
        )
        status = 1

    print("OpenCL devices:", file=out)
    for pi, di, platform, device in entries:
        dev = DeviceInfo(platform, device)
        mark = "*" if chosen is not None and device == chosen.device else " "
        print(f"{mark} opencl:{pi}:{di}  {dev.type_name}  {dev.name}", file=out)
        print(f"      platform: {dev.platform_name} ({platform.version.strip()})", file=out)
        print(f"      version: {dev.version}   driver: {dev.driver_version}", file=out)
        print(
            f"      fp64: {_yes(dev.has_fp64)}   global memory: {_gib(dev.global_mem_size)}   "
            f"largest buffer: {_gib(dev.max_alloc_bytes)}   "
            f"compute units: {dev.compute_units}   max work-group size: "
            f"{dev.max_work_group_size}",
            file=out,
        )
        print(
            f"      preferred float vector width: {dev.preferred_vector_width('float32')}   "
            f"host-unified memory: {_yes(dev.host_unified_memory)}",
            file=out,
        )
    if not entries:
        print("  (none)", file=out)
    if chosen is not None:
        print(f"chosen: {chosen.name} ({chosen.platform_name})", file=out)
        print(f"reason: {chosen.reason}", file=out)
        if chosen.inline_queue is not None:
            print(f"small launches: in the calling thread on {chosen.inline_queue.device.name} "
                  "(PoCL's basic driver; config.pocl_inline)", file=out)
    print(f"compiledir: {config.compiledir}", file=out)
    print("config flags:", file=out)
    described = config.describe()
    width = max(len(name) for name, _, _ in described)
    for name, value, doc in described:
        print(f"  {name:<{width}} = {value!s:<12}  # {doc}", file=out)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m clgraph` and the `clgraph` console script."""
    parser = argparse.ArgumentParser(prog="clgraph", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser("info", help="list OpenCL devices, the chosen one, and config flags")
    demo_p = commands.add_parser("demo", help="train examples/mlp_digits.py's MLP on digits")
    demo_p.add_argument("--quick", action="store_true", help="3 epochs only")
    args = parser.parse_args(argv)
    if args.command == "info":
        return info()
    if args.command == "demo":
        from clgraph import demo

        result = demo.main(quick=args.quick)
        return result if isinstance(result, int) else 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
