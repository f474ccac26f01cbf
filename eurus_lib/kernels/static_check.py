"""Compile the NF4 kernels for a GPU on a machine without one, and read what the compiler made.

Triton lowers a kernel to PTX and assembles it for a target (sm_90 = H100/H200) with the ptxas
that ships in the Triton wheel; cuobjdump, shipped too, prints the machine code (SASS) and the
resource usage. No GPU and no CUDA driver are needed. For each launch config of the kit
(`nf4_triton.launch_specs()`) this module reads:

    regs, local_bytes, spill_ops   registers per thread; local memory and STL/LDL = spills
    shared_bytes                   shared memory per program (a layout change goes through it)
    ldg128                         16-byte global loads (LDG.E.128) in the hot region
    loads_per_weight               global loads (LDG, LDGSTS) per weight, counted per thread, in the
                                   hot region: a table or absmax read from global memory for
                                   every weight shows up here as one or more
    narrow_async                   async copies narrower than 16 bytes (LDGSTS): a per-element
                                   gather, e.g. a pipelined table lookup, staged through shared memory
    barriers                       BAR instructions in the hot region
    instr_per_weight               SASS instructions issued per weight, counted per thread, in the
                                   hot region (the main loop, or the whole kernel when it has none)

tests/test_kernels_static.py asserts limits on them. Print the table (a JSON with --json):

    .venv/bin/python -m eurus_lib.kernels.static_check [--arch 90] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field

_SASS_LINE = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
_BRANCH = re.compile(r"\bBRA\b.*?0x([0-9a-f]+)")


@dataclass(frozen=True)
class KernelSpec:
    """One launch config: the @triton.jit function's name in _nf4_triton, its constexprs, the
    pointer dtypes (Triton type strings), representative int arguments (they decide the 16-byte
    divisibility hints the JIT would attach at launch), launch options, and how many weights one
    trip through the hot region decodes (to count instructions per weight)."""

    label: str
    kernel: str
    constexprs: dict
    ptrs: dict
    ints: dict
    weights_per_iter: int
    num_warps: int = 4
    num_stages: int = 1
    options: dict = field(default_factory=dict)


def toolchain_problem(arch: int = 90) -> str | None:
    """None when Triton can compile for cuda sm_<arch> here, else one sentence saying why not."""
    if os.environ.get("TRITON_INTERPRET") == "1":
        return "TRITON_INTERPRET=1 turns the kernels into interpreted functions; unset it to compile them"
    try:
        import triton  # noqa: F401
        from triton import knobs
        from triton.backends.compiler import GPUTarget  # noqa: F401
    except ImportError as exc:
        return f"Triton is not installed ({exc}); install the GPU extra to run the static kernel checks"
    for tool in ("ptxas", "cuobjdump"):
        try:
            path = getattr(knobs.nvidia, tool).path
        except Exception as exc:  # knobs raise when the bundled binary is missing
            return f"Triton's bundled {tool} is missing ({exc!r}); the wheel for this platform ships none"
        if not (path and os.access(path, os.X_OK)):
            return f"Triton's bundled {tool} is missing or not executable ({path})"
    return None


def _signature(fn, spec: KernelSpec) -> tuple[dict, dict]:
    """Triton signature and attrs as the JIT would build them for a launch with 16-byte aligned
    tensors and the spec's int arguments (ints divisible by 16 get the same hint)."""
    sig, attrs = {}, {}
    for i, name in enumerate(fn.arg_names):
        if name in spec.constexprs:
            sig[name] = "constexpr"
        elif name in spec.ptrs:
            sig[name] = spec.ptrs[name]
            attrs[(i,)] = [["tt.divisibility", 16]]
        else:
            sig[name] = "i32"
            if spec.ints.get(name, 0) % 16 == 0 and spec.ints.get(name, 0) != 0:
                attrs[(i,)] = [["tt.divisibility", 16]]
    return sig, attrs


def compile_spec(spec: KernelSpec, arch: int = 90):
    """The CompiledKernel of one spec for cuda sm_<arch> (cached by Triton like any compile)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from . import _nf4_triton
    fn = getattr(_nf4_triton, spec.kernel)
    sig, attrs = _signature(fn, spec)
    src = ASTSource(fn, sig, dict(spec.constexprs), attrs)
    opts = {"num_warps": spec.num_warps, "num_stages": spec.num_stages, **spec.options}
    return triton.compile(src, target=GPUTarget("cuda", arch, 32), options=opts)


def _cuobjdump(cubin: bytes, *flags: str) -> str:
    from triton import knobs
    fd, path = tempfile.mkstemp(suffix=".cubin")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(cubin)
        return subprocess.run([knobs.nvidia.cuobjdump.path, *flags, path], check=True,
                              capture_output=True, text=True).stdout
    finally:
        os.remove(path)


def sass_instructions(cubin: bytes) -> list[tuple[int, str]]:
    """(address, instruction) pairs of the kernel's SASS, without padding NOPs and the final
    self-branch ptxas appends."""
    out = []
    for addr, text in _SASS_LINE.findall(_cuobjdump(cubin, "-sass")):
        a = int(addr, 16)
        if text == "NOP" or re.fullmatch(rf"BRA 0x0*{a:x}", text):
            continue
        out.append((a, text))
    return out


def resource_usage(cubin: bytes) -> dict:
    """REG, STACK, SHARED and LOCAL as cuobjdump -res-usage prints them."""
    text = _cuobjdump(cubin, "-res-usage")
    return {k: int(v) for k, v in re.findall(r"\b(REG|STACK|SHARED|LOCAL):(\d+)", text)}


def hot_region(instrs: list[tuple[int, str]]) -> tuple[list[str], bool]:
    """The instructions of the outermost loop (the span of the longest backward branch), or of the
    whole kernel when it has no loop; and whether it was a loop."""
    best = None
    for addr, text in instrs:
        m = _BRANCH.search(text)
        if m and int(m.group(1), 16) <= addr:
            span = (int(m.group(1), 16), addr)
            if best is None or span[1] - span[0] > best[1] - best[0]:
                best = span
    if best is None:
        return [t for _, t in instrs], False
    return [t for a, t in instrs if best[0] <= a <= best[1]], True


def _opcode(text: str) -> str:
    text = re.sub(r"^@!?U?P\w+\s+", "", text)  # predicate guard
    return text.split()[0] if text else ""


def analyse(spec: KernelSpec, kernel) -> dict:
    """The readings listed in the module docstring for one compiled spec."""
    cubin = kernel.asm["cubin"]
    instrs = sass_instructions(cubin)
    region, is_loop = hot_region(instrs)
    ops = [_opcode(t) for t in region]
    all_ops = [_opcode(t) for _, t in instrs]
    res = resource_usage(cubin)
    threads = 32 * spec.num_warps
    return {
        "label": spec.label, "kernel": spec.kernel, "num_warps": spec.num_warps, "num_stages": spec.num_stages,
        "constexprs": {k: v for k, v in spec.constexprs.items() if k != "INTERP"},
        "regs": res.get("REG", 0), "local_bytes": res.get("LOCAL", 0),
        "spill_ops": sum(o.startswith(("STL", "LDL")) for o in all_ops),
        "shared_bytes": int(kernel.metadata.shared),
        "hot_region": "loop" if is_loop else "kernel", "hot_instrs": len(region),
        "ldg128": sum(o.startswith("LDG") and ".128" in o for o in ops),
        "ldg": sum(o.startswith("LDG") for o in ops),
        "loads_per_weight": round(sum(o.startswith(("LDG", "LDGSTS")) for o in ops) * threads / spec.weights_per_iter, 3),
        "narrow_async": sum(o.startswith("LDGSTS") and ".128" not in o for o in all_ops),
        "async": sum(o.startswith("LDGSTS") for o in all_ops),
        "barriers": sum(o.startswith("BAR") for o in ops),
        "shuffles": sum(o.startswith("SHFL") for o in ops),
        "mma": sum(o.startswith(("HMMA", "HGMMA")) for o in ops),
        "instr_per_weight": round(len(region) * threads / spec.weights_per_iter, 2),
        "total_instrs": len(instrs),
    }


def report(specs, arch: int = 90) -> list[dict]:
    return [analyse(s, compile_spec(s, arch)) for s in specs]


def _table(rows: list[dict]) -> str:
    cols = ("label", "regs", "spill_ops", "shared_bytes", "ldg128", "loads_per_weight", "narrow_async",
            "barriers", "instr_per_weight", "hot_region")
    lines = [" | ".join(cols)]
    lines += [" | ".join(str(r[c]) for c in cols) for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Compile every NF4 kernel config for a GPU target and print "
                                             "what the compiler made (no GPU needed).")
    ap.add_argument("--arch", type=int, default=90, help="CUDA compute capability as an int (90 = H100/H200)")
    ap.add_argument("--json", help="also write the readings to this JSON file")
    args = ap.parse_args(argv)
    problem = toolchain_problem(args.arch)
    if problem:
        print(problem)
        return 2
    from .nf4_triton import launch_specs
    rows = report(launch_specs(), args.arch)
    print(_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            import triton
            json.dump({"arch": f"sm_{args.arch}", "triton": triton.__version__, "kernels": rows}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
