"""Exhaust memory: a 50 GiB allocation, a list that grows until it fails, a huge NumPy
array, and a graded function that allocates without bound.

Costs only its own points: the address-space limit turns each into a MemoryError (or
kills that process) long before the grading machine runs short.
"""

CATEGORY = "resource exhaustion"

APPEND = [
    '''def _eat(*args, **kwargs):
    hog = []
    while True:
        hog.append(bytearray(2**27))


for _name, _kind in ATTACK["targets"].items():
    if _kind == "function":
        globals()[_name] = _eat
''',
    "x = bytearray(50 * 2**30)",
    "import numpy as np\ny = np.ones((10**6, 10**6))",
    '''hog = []
while True:
    hog.append(bytearray(2**28))
''',
]
