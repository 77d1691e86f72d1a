#!/usr/bin/env bash
# The GPU check of a session with the device tool (see NOTES.md "GPU"): run from the repo root on
# the device machine with .whl/ carried. Prepare .whl/ here first (git-ignored through
# .git/info/exclude), for Python 3.12 manylinux x86_64: pyopencl, pytools, platformdirs, siphash24,
# mako (pip download --no-deps --only-binary=:all: ..., as /work/.library/device/README.md says).
# Env: TESTS (pytest args), TEST_S / BENCH_S (time limits), NOBENCH=1 (tests only).
set -u
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
T0=$(date +%s)
python3 -m pip install -q --no-index --no-deps .whl/*.whl 2>&1 | tail -2
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . 2>&1 | tail -2
nvidia-smi -L
lib=$(ls /usr/local/nvidia/lib64/libnvidia-opencl.so.1 /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 /usr/local/nvidia/lib/libnvidia-opencl.so.1 2>/dev/null | head -1)
[ -z "$lib" ] && lib=$(find / -xdev -name "libnvidia-opencl.so*" 2>/dev/null | head -1)
echo "nvidia opencl lib: '$lib'"
mkdir -p /etc/OpenCL/vendors; [ -n "$lib" ] && echo "$lib" > /etc/OpenCL/vendors/nvidia.icd
export OCL_ICD_VENDORS=/etc/OpenCL/vendors
python3 -m clgraph info 2>&1 | tee $OUT/info.txt
echo "setup took $(( $(date +%s) - T0 )) s"
export CLGRAPH_TEST_COMPILEDIR=/tmp/clgcache
timeout ${TEST_S:-240} python3 -m pytest ${TESTS:-} -n 12 -p no:cacheprovider -v --timeout 90 --timeout-method thread -rfE > $OUT/pytest.log 2>&1
echo "pytest rc=$? after $(( $(date +%s) - T0 )) s"
grep -E "FAILED|ERROR|crashed|Timeout|passed|failed" $OUT/pytest.log | tail -80
[ -n "${NOBENCH:-}" ] && exit 0
timeout ${BENCH_S:-170} python3 benchmarks/run.py -v ${BENCH:-} --markdown $OUT/bench.md > $OUT/bench.log 2>&1
echo "bench rc=$? after $(( $(date +%s) - T0 )) s"
tail -40 $OUT/bench.log
