"""Write a 10 GiB file, fill the disk with many files, print 50 MB to stdout and
stderr, and write straight to file descriptors 1 and 2.

Costs only its own points: the file-size limit and the size-limited tmpfs stop the
writes, captured output is cut to a fixed size, and raw descriptor output only reaches
a capped log.
"""

CATEGORY = "resource exhaustion"

APPEND = [
    '''import os

try:
    with open("big.bin", "wb") as fh:
        chunk = b"x" * 2**24
        for _ in range(640):
            fh.write(chunk)
except OSError as exc:
    print("big file:", exc)
try:
    for i in range(10**6):
        with open(f"many_{i}.bin", "wb") as fh:
            fh.write(b"y" * 2**20)
except OSError as exc:
    print("many files:", exc)
''',
    '''import sys

for _ in range(50):
    print("z" * 10**6)
    print("e" * 10**6, file=sys.stderr)
''',
    '''import os

for _ in range(200):
    os.write(1, b"o" * 2**18)
    os.write(2, b"r" * 2**18)
''',
]
