#!/usr/bin/env python3
"""Groups the large byte[]s of a heap dump by what keeps them alive: list.txt is `dumpheap -type System.Byte[] -min 85000`,
roots.txt the `gcroot` of each, in the same order (SOS ends each with "Found N unique roots")."""
import re
import sys
from collections import defaultdict

listing, roots = (open(p, encoding="utf-8").read() for p in sys.argv[1:3])
# Object lines are "address MT size" (run.sh asks gcroot for the same lines); the statistics after them have more columns.
arrays = [(m.group(1), int(m.group(2).replace(",", ""))) for m in re.finditer(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([\d,]+)\s*$", listing, re.M)]
bodies = re.split(r"Found \d+ unique roots?\.?", roots)[: len(arrays)]
owners = defaultdict(lambda: [0, 0, set()])
for (address, size), body in zip(arrays, bodies):
    chain = [line.strip() for line in body.splitlines() if line.strip().startswith("->")]
    upto = next((i for i, line in enumerate(chain) if line.startswith("-> " + address)), None)
    if upto is not None and upto > 0:
        held = chain[:upto]
        pool = next((line.split()[1] for line in held if "ConfigurableArrayPool<System.Byte> " in line), None)
        if pool:
            owner = f"kept by ConfigurableArrayPool<byte> at {pool}"
        elif any("ConfigurableArrayPool<System.Byte>+Bucket" in line for line in held):
            bucket_owner = held[-4].split(None, 2)[2] if len(held) >= 4 else "?"
            owner = f"kept by a ConfigurableArrayPool<byte> bucket (reached through {bucket_owner[:60]})"
        else:
            owner = "held by " + " / ".join(line.split(None, 2)[2][:60] for line in held[-2:])
    elif "Thread " in body:
        frame = re.search(r"\s(\S+\.\S+\([^)]*\))", body)
        owner = "only on a thread's stack: " + (frame.group(1)[:90] if frame else "?")
    else:
        owner = "unreachable: garbage the next collection frees"
    owners[owner][0] += 1
    owners[owner][1] += size
    owners[owner][2].add(size)
total = sum(size for _, size in arrays)
print(f"{len(arrays)} byte[] of 85,000 bytes or more, {total / 2**20:.1f} MiB in all:")
for owner, (count, size, sizes) in sorted(owners.items(), key=lambda item: -item[1][1]):
    print(f"{count:4d} arrays {size / 2**20:8.1f} MiB  {owner}  (sizes: {', '.join(f'{s:,}' for s in sorted(sizes))})")
