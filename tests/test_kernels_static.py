"""Every NF4 kernel config the kit can launch, compiled for sm_90 (H100/H200) on the CPU.

Triton assembles for a GPU target without a GPU, using the ptxas and cuobjdump in its wheel; the
test reads the machine code (eurus_lib/kernels/static_check.py) and holds each config to the
limits below. Run against the first-pass kernels it reported what issue 12 lists (raw readings:
benchmarks/gpu_kernels_static_sm90_before.json): 1.1-5.3 global loads per weight (the NF4 table
read from global memory for every weight, and the absmax decoded per weight), 54-198 four-byte
async copies of those reads in every pipelined GEMM config, 255 registers with 29 spill
instructions in one GEMM config, and 4-6 barriers with 1-2 KiB of shared-memory layout changes in
every GEMV loop trip. The first run compiles ~40 kernels (about 3 minutes on 2 cores); Triton's
cache makes later runs take seconds.

    .venv/bin/python -m pytest tests/test_kernels_static.py
"""

import json
from pathlib import Path

import pytest

from eurus_lib.kernels.static_check import toolchain_problem

ARCH = 90  # H100 / H200, the cards this project's GPU runs use
_PROBLEM = toolchain_problem(ARCH)
pytestmark = pytest.mark.skipif(_PROBLEM is not None, reason=f"cannot compile for sm_{ARCH} here: {_PROBLEM}")

# At most 168 registers per thread: an SM's 65,536 registers then hold at least 12 warps
# (65,536 / (32 x 168)), the fewest we accept for a memory-bound kernel to keep enough loads in
# flight. ptxas caps a thread at 255, where the first-pass GEMM spilled.
MAX_REGISTERS = 168
# One global load per weight means a table or absmax read per weight. A 16-byte load of codes
# costs 1/32 per weight; x pairs, absmax and the table add a little. Ours read 0.06-0.34.
MAX_LOADS_PER_WEIGHT = 0.5
# The GEMV's loop may hold only the NF4 table tl.gather writes to shared memory (16 x 4 bytes)
# and its two barriers (after writing, and before the next trip rewrites it); anything more is a
# layout change through shared memory, as the first pass's 1-2 KiB and 4-6 barriers per trip.
MAX_GEMV_SHARED_BYTES = 64
MAX_GEMV_LOOP_BARRIERS = 2
# The small-M loop stages the two decoded tiles and x through shared memory for wgmma, plus the
# table: 6-8 barriers per 64-value block of K. More would mean an extra layout change.
MAX_SMALL_LOOP_BARRIERS = 8
MAX_DEQUANT_BARRIERS = 8  # per program (no loop): table, one layout change of the codes, store
# SASS instructions issued per weight, counted per thread. H100 and H200 issue at most
# 132 SMs x 4 warp-instructions per clock x 1.98 GHz = 3.3e13 thread-instructions/s.
# GEMV: at 8 per weight that allows 4.2e12 weights/s = 2.2 TB/s of NF4 bytes (0.516 B/weight),
# 72% of the H100's measured 3.02 TB/s copy rate and 51% of the H200's 4.27 TB/s: the issue's
# 50% floor stays reachable. Small M: the target is 1.5x the M=1 time, so 1.5 x 8 = 12.
# Dequantize: 2.7 TB/s (bitsandbytes' rate on the H100) moves 1.1e12 weights/s (2.5 B each);
# at 10 per weight the SMs could issue three times that.
MAX_INSTR_PER_WEIGHT = {"nf4_gemv_kernel": 8.0, "nf4_mm_small_kernel": 12.0, "nf4_dequant_kernel": 10.0}




def _loops_ok(r) -> bool:
    if "gemv" in r["kernel"]:
        return (r["hot_region"] == "loop" and r["shared_bytes"] <= MAX_GEMV_SHARED_BYTES
                and r["barriers"] <= MAX_GEMV_LOOP_BARRIERS)
    if "mm" in r["kernel"]:
        return r["hot_region"] == "loop" and r["mma"] >= 2 and r["barriers"] <= MAX_SMALL_LOOP_BARRIERS
    return r["barriers"] <= MAX_DEQUANT_BARRIERS


CHECKS = {
    "spills": lambda r: r["spill_ops"] == 0 and r["local_bytes"] == 0,
    "registers": lambda r: r["regs"] <= MAX_REGISTERS,
    "16-byte loads": lambda r: r["ldg128"] >= 1,
    "loads per weight": lambda r: r["loads_per_weight"] <= MAX_LOADS_PER_WEIGHT,
    "async gathers": lambda r: r["narrow_async"] == 0,  # no 4-byte async copies of gathered values
    "loop layout changes": _loops_ok,
    "instructions per weight": lambda r: r["instr_per_weight"] <= MAX_INSTR_PER_WEIGHT.get(r["kernel"], 12.0),
}


def failed(reading) -> list[str]:
    return [name for name, ok in CHECKS.items() if not ok(reading)]


def _specs():
    from eurus_lib.kernels.nf4_triton import launch_specs
    return launch_specs() if _PROBLEM is None else []


@pytest.fixture(scope="module", params=_specs(), ids=lambda s: s.label)
def reading(request):
    from eurus_lib.kernels.static_check import analyse, compile_spec
    return analyse(request.param, compile_spec(request.param, ARCH))


def test_every_launch_config_is_covered():
    """The static check compiles the defaults and every card's configs, for both activation
    dtypes and both absmax storages."""
    labels = [s.label for s in _specs()]
    kinds = {lab.split()[0] for lab in labels}
    assert kinds == {"dequant", "gemv", "small"}
    assert any("fp16" in lab for lab in labels) and any("fp32-absmax" in lab for lab in labels)


@pytest.mark.parametrize("check", list(CHECKS))
def test_compiled_kernel_passes(reading, check):
    assert CHECKS[check](reading), reading


def test_the_checks_flag_what_issue_12_found_in_the_first_pass_kernels():
    """The same checks on the committed readings of the first-pass kernels (compiled by this
    module's code at commit b4e5a11): each fault the issue lists is caught."""
    path = Path(__file__).parents[1] / "benchmarks" / "gpu_kernels_static_sm90_before.json"
    before = json.loads(path.read_text())["kernels"]
    for r in before:
        assert "loads per weight" in failed(r), r["label"]  # table (and absmax) per weight from global memory
    for r in before:
        if r["kernel"] == "nf4_gemv_kernel":
            assert "loop layout changes" in failed(r), r["label"]
        if r["kernel"].startswith("nf4_mm") and r["num_stages"] > 1:
            assert "async gathers" in failed(r), r["label"]
    spilled = [r for r in before if r["regs"] == 255 and r["spill_ops"] > 0]
    assert spilled and all({"spills", "registers"} <= set(failed(r)) for r in spilled)
    dequant = [r for r in before if r["kernel"] == "nf4_dequant_kernel"]
    assert dequant and all("16-byte loads" in failed(r) for r in dequant)
