"""cnnlab.precompile: the warm-up runs every path of the dispatch table and says so
when the kernel cache is cold."""

from __future__ import annotations

import io

import pytest

from cnnlab import precompile
from cnnlab.layers import dispatch


def test_compile_times_cover_every_path_and_dtype():
    times = precompile.compile_times(("float32",), progress=False)
    assert [t.label for t in times] == [p.label for p in dispatch.PATHS]
    lazy = precompile.compile_times(("float64",), progress=False)
    assert [t.label for t in lazy] == [p.label for p in dispatch.PATHS if not p.parallel]
    every = precompile.compile_times(("float64",), progress=False, everything=True)
    assert [t.label for t in every] == [p.label for p in dispatch.PATHS]
    assert all(t.dtype == "float64" and t.seconds >= 0 for t in every)


def test_a_kernel_without_a_cache_entry_is_announced(capsys):
    from cnnlab.kernels import pool

    dispatch._announced.clear()
    dispatch.announce_compile(pool.max_pool_forward, "float32")  # cached by the warm-up
    assert capsys.readouterr().out == ""

    class Uncached:
        signatures = ()

        class _cache:
            class _cache_file:
                @staticmethod
                def _load_index():
                    return {}

    dispatch.announce_compile(Uncached, "float64")
    assert "Compiling cnnlab's Uncached kernel for float64 once" in capsys.readouterr().out
    dispatch.announce_compile(Uncached, "float64")  # once per process
    assert capsys.readouterr().out == ""
    dispatch._announced.clear()
    with dispatch.silent_compiles():  # the warm-up shows its own progress instead
        dispatch.announce_compile(Uncached, "float64")
    assert capsys.readouterr().out == ""


def test_cold_cache_prints_the_message_and_progress(monkeypatch):
    monkeypatch.setattr(precompile, "cache_is_cold", lambda: True)
    stream = io.StringIO()
    precompile.compile_times(("float32",), stream=stream)
    text = stream.getvalue()
    assert text.startswith("Compiling cnnlab's kernels once, about a minute")
    assert f"[ 1/{len(dispatch.PATHS)}]" in text
    assert f"[{len(dispatch.PATHS)}/{len(dispatch.PATHS)}]" in text
    assert f"all {len(dispatch.PATHS)} kernel paths ready" in text


def test_warm_cache_prints_nothing(monkeypatch, capsys):
    monkeypatch.setattr(precompile, "cache_is_cold", lambda: False)
    precompile.warmup(("float32",))
    assert capsys.readouterr().out == ""


def test_cache_is_warm_after_a_warmup():
    # The suite runs after `make venv`, whose warm-up filled the cache (or with
    # NUMBA_DISABLE_JIT=1, where nothing is ever cold).
    precompile.warmup(progress=False)
    assert precompile.cache_is_cold() is False


def test_bad_dtype_is_named():
    with pytest.raises(ValueError, match="'float16'"):
        precompile.warmup(("float16",))
