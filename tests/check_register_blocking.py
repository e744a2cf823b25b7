#!/usr/bin/python3
"""Guards the AVX2 kernels' register blocking: the innermost loop of each register-blocked kernel must keep its
sums in registers. A compiler may put them in memory without a warning, and it did: GCC turned the loop that
stored C5's 15 sums out into a memcpy, which put the sums on the stack, read and written on every input (C5
took 1.5x as long). This reads the compiled object's machine code (objdump) and fails, naming the kernel, when
an innermost loop of one reads or writes a vector register's worth of the stack.

    check_register_blocking.py OBJECT...   (lenet5_native's objects: forward_avx2's and convolution_avx2's are read)

Exit 77 (CTest's skip) without an x86-64 AVX2 object or without objdump.
"""
import re
import shutil
import subprocess
import sys

KERNELS = {  # by object: the inference plan's kernels, and the training convolutions'
    "forward_avx2": ("::c1_s2(", "::c3_products(", "::dense_tile<", "::dense_row<"),
    "convolution_avx2": ("::conv_forward_tile<", "::conv_weight_gradient_group<"),
}
FUNCTION = re.compile(r"^[0-9a-f]+ <(.*)>:$")
INSTRUCTION = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")
STACK_VECTOR = re.compile(r"%ymm\d+.*\(%r[sb]p\)|\(%r[sb]p\).*%ymm\d+")


def functions(disassembly):
    """{name: [(address, mnemonic, operands)]} of every function in objdump's output."""
    result, current = {}, None
    for line in disassembly.splitlines():
        header = FUNCTION.match(line)
        if header:
            current = result.setdefault(header.group(1), [])
            continue
        instruction = INSTRUCTION.match(line)
        if current is not None and instruction:
            current.append((int(instruction.group(1), 16), instruction.group(2), instruction.group(3)))
    return result


def innermost_loops(code):
    """Each innermost loop's instructions: from a backward jump's target to the jump, holding no other loop."""
    loops = []
    for address, mnemonic, operands in code:
        target = re.match(r"([0-9a-f]+) <", operands)
        if mnemonic.startswith("j") and target and int(target.group(1), 16) <= address:
            loops.append((int(target.group(1), 16), address))
    inner = [(begin, end) for begin, end in loops
             if not any((b, e) != (begin, end) and begin <= b and e <= end for b, e in loops)]
    return [[i for i in code if begin <= i[0] <= end] for begin, end in inner]


def check(path, kernels):
    """The number of kernels in the object at `path` that fail, each reported."""
    disassembly = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", path], check=True,
                                 capture_output=True, text=True).stdout
    code = functions(disassembly)
    failures = 0
    for kernel in kernels:
        bodies = {name: body for name, body in code.items() if kernel in name}
        if not bodies:
            print(f"FAIL {kernel.strip(':(<')}: not in {path} (inlined or renamed? it must stay a function)")
            failures += 1
        for name, body in bodies.items():
            loops = innermost_loops(body)
            spills = [f"{a:x}: {m} {o}" for loop in loops for a, m, o in loop if STACK_VECTOR.search(o)]
            start = name.index(kernel) + 2
            short = name[start:name.index("(", start)] + (" (clone)" if "[clone" in name else "")
            if not loops:
                print(f"FAIL {short}: no loop found")
                failures += 1
            elif spills:
                print(f"FAIL {short}: its innermost loop keeps sums on the stack:\n  " + "\n  ".join(spills[:8]))
                failures += 1
            else:
                fmas = sum("vfmadd" in m for loop in loops for _, m, _ in loop)
                print(f"ok   {short}: {len(loops)} innermost loop(s), {fmas} FMAs, no vector on the stack")
    return failures


def main(arguments):
    objects = [o for argument in arguments for o in argument.split(";")]  # CMake may pass its list as one argument
    found = {stem: [o for o in objects if re.search(rf"/{stem}\.cpp\.o(bj)?$", o)] for stem in KERNELS}
    if not all(found.values()) or shutil.which("objdump") is None:
        print("skipped: an AVX2 kernel object or objdump is missing")
        return 77
    with open(found["forward_avx2"][0], "rb") as probe:
        if b"fma" not in subprocess.run(["objdump", "-d", found["forward_avx2"][0]], capture_output=True).stdout[:10**7]:
            print("skipped: the objects hold no AVX2 kernels (not an x86-64 build)")
            return 77
    failures = sum(check(found[stem][0], kernels) for stem, kernels in KERNELS.items())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
