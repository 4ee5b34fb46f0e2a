"""cnnlab.kernels.simd: the wrappers' helper for aligned arrays."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.kernels.simd import VECTOR_BYTES, aligned_empty


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 7, 16, 1000, 1 << 20])
def test_aligned_empty_starts_on_a_vector_boundary(size, dtype):
    arrays = [aligned_empty(size, dtype) for _ in range(5)]  # several allocations
    for a in arrays:
        assert a.shape == (size,)
        assert a.dtype == dtype
        assert a.flags.c_contiguous
        assert a.flags.writeable
        assert a.ctypes.data % VECTOR_BYTES == 0
    a = arrays[0]
    a[:] = np.arange(size)  # the whole run is usable memory
    np.testing.assert_array_equal(a, np.arange(size, dtype=dtype))
