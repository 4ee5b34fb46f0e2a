"""cnnlab.grading.plain: only plain data crosses the sandbox boundary, by exact type."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnlab.grading import plain
from cnnlab.grading.plain import Unsupported, decode, encode, outcome_for, to_plain

PLAIN_PY = Path(plain.__file__)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(2**70),
        1.5,
        "text",
        [],
        (),
        [1, (2.5, "a"), {"k": [None]}],
        {"nested": {"deeper": (1, 2)}},
    ],
)
def test_plain_values_survive_the_round_trip_with_their_types(value):
    back = decode(encode(value))
    assert back == value
    assert type(back) is type(value)


def test_tuples_stay_tuples_and_lists_stay_lists():
    back = decode(encode(([1, 2], (3, [4]))))
    assert type(back) is tuple
    assert type(back[0]) is list
    assert type(back[1]) is tuple
    assert type(back[1][1]) is list


@pytest.mark.parametrize("special", [math.inf, -math.inf])
def test_non_finite_floats_round_trip(special):
    assert decode(encode([special])) == [special]


def test_nan_round_trips():
    assert math.isnan(decode(encode(math.nan)))


@pytest.mark.parametrize(
    "array",
    [
        np.arange(6.0).reshape(2, 3),
        np.arange(24, dtype=np.float32).reshape(2, 3, 4)[:, ::2],  # not contiguous
        np.array([True, False]),
        np.array(7, dtype=np.int16),
        np.zeros((0, 3), dtype=np.uint8),
        np.array([1.0, np.nan, -np.inf]),
        np.arange(4, dtype=">i4"),  # big-endian
    ],
)
def test_arrays_round_trip_with_dtype_and_shape(array):
    back = decode(encode({"a": array}))["a"]
    assert type(back) is np.ndarray
    assert back.dtype == array.dtype
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_numpy_scalars_become_python_numbers():
    converted = to_plain((np.int64(3), np.float32(0.5), np.bool_(True), np.uint8(7)))
    assert converted == (3, 0.5, True, 7)
    assert [type(v) for v in converted] == [int, float, bool, int]


def test_to_plain_copies_arrays():
    a = np.zeros(3)
    b = to_plain(a)
    b[0] = 1.0
    assert a[0] == 0.0


class Sneaky(float):
    def __eq__(self, other):  # pragma: no cover - must never run
        raise AssertionError("student code ran")

    __hash__ = float.__hash__


class SneakyList(list):
    pass


class SneakyArray(np.ndarray):
    pass


class Meta(type):
    armed = False

    def __getattribute__(cls, name):
        if type.__getattribute__(Meta, "armed"):
            raise AssertionError("student code ran")
        return type.__getattribute__(cls, name)


class Hostile(metaclass=Meta):
    pass


@pytest.fixture(autouse=True)
def _arm_the_metaclass():
    Meta.armed = True
    yield
    Meta.armed = False


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (Sneaky(1.0), "Sneaky"),
        (SneakyList([1]), "SneakyList"),
        (np.zeros(2).view(SneakyArray), "SneakyArray"),
        (object(), "object"),
        (Hostile(), "Hostile"),
        ({1: "int key"}, "dict with a int key"),
        (np.array(["a"]), "numpy.ndarray of dtype <U1"),
        (np.array([1 + 2j]), "numpy.ndarray of dtype <c16"),
        (np.array([None], dtype=object), "numpy.ndarray of dtype |O"),
        (np.zeros(2, dtype=[("a", "f8")]), "numpy.ndarray of dtype |V8"),
        (np.complex128(1j), "numpy.complex128"),
        ({1, 2}, "set"),
        (b"bytes", "bytes"),
        (lambda: 0, "function"),
    ],
)
def test_anything_else_is_unsupported_by_exact_type(value, name):
    with pytest.raises(Unsupported) as info:
        to_plain(value)
    assert name in info.value.type_name
    assert outcome_for(value) == {"unsupported": info.value.type_name}


def test_subclasses_are_refused_inside_containers_too():
    assert "unsupported" in outcome_for([1, (2, Sneaky(3.0))])
    assert "unsupported" in outcome_for({"k": SneakyList()})


def test_cycles_and_deep_nesting_hit_the_depth_limit():
    loop: list = []
    loop.append(loop)
    with pytest.raises(Unsupported, match="deeper"):
        to_plain(loop)
    deep: list = [0]
    for _ in range(plain.MAX_DEPTH + 2):
        deep = [deep]
    assert "unsupported" in outcome_for(deep)


def test_huge_values_are_refused(monkeypatch):
    monkeypatch.setattr(plain, "MAX_ELEMENTS", 10)
    with pytest.raises(Unsupported, match="more than 10 elements"):
        to_plain(np.zeros(11))
    with pytest.raises(Unsupported):
        to_plain(list(range(11)))


def test_outcome_for_wraps_values():
    assert outcome_for([np.int8(1)]) == {"value": [1]}


@pytest.mark.parametrize(
    "text",
    [
        "NaN",  # bare non-standard constants
        "[Infinity]",
        '{"x": 1}',  # an untagged object
        '{"t": 1}',
        '{"a": ["<f8", [2], "AAAAAAAAAAA="]}',  # 8 bytes for 2 float64s
        '{"a": ["|O", [1], ""]}',
        '{"a": ["<f8", [-1], ""]}',
        '{"a": ["not a dtype", [1], ""]}',
        '{"a": ["<f8", [1], "***"]}',
        '{"f": "1e400"}',
        "[1,",
    ],
)
def test_decode_rejects_malformed_messages(text):
    with pytest.raises(ValueError, match="malformed"):
        decode(text)


def test_encode_is_json_with_tagged_containers():
    message = json.loads(encode({"pair": (1, 2.0), "x": np.array([1, 2], dtype=np.int64)}))
    assert message["d"]["pair"] == {"t": [1, 2.0]}
    dtype, shape, _ = message["d"]["x"]["a"]
    assert (dtype, shape) == ("<i8", [2])


def test_the_module_runs_alone_with_only_the_standard_library_and_numpy():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('plain_copy', {str(PLAIN_PY)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "import numpy as np\n"
        "assert m.decode(m.encode((np.eye(2), 3))) [1] == 3\n"
        "print(sorted(n for n in sys.modules if n.startswith('cnnlab')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
    imports = [
        line.split()[1].split(".")[0]
        for line in PLAIN_PY.read_text().splitlines()
        if line.startswith(("import ", "from "))
    ]
    assert set(imports) <= {"__future__", "base64", "json", "math", "re", "typing", "numpy"}


# --- limits: what a hostile answer or a forged message can cost the grading process ---


def test_huge_integers_are_refused_without_converting_them_to_text():
    with pytest.raises(Unsupported, match=r"int with more than 100 digits"):
        to_plain([10**5000])
    assert to_plain(10**99) == 10**99
    with pytest.raises(plain.InvalidAnswer, match="more than 100 digits"):
        decode("1" * 101)
    assert decode("-" + "9" * 100) == -int("9" * 100)


def test_lone_surrogates_are_refused_in_values_and_keys():
    for value in ("ok\ud800", {"\udfff": 1}, ["\ud800"]):
        assert outcome_for(value) == {"unsupported": "str holding a lone surrogate "
                                                     "(not valid text)"}
    with pytest.raises(plain.InvalidAnswer, match="not valid Unicode"):
        decode('"\\ud800"')
    with pytest.raises(plain.InvalidAnswer, match="not valid Unicode"):
        decode('{"d": {"\\udc80": 1}}')
    assert decode(encode("é \u2603 \U0001f600")) == "é \u2603 \U0001f600"


def test_deep_messages_are_refused_before_parsing():
    deep = "[" * 100_000 + "]" * 100_000  # a recursive parser would overflow its stack
    with pytest.raises(ValueError, match="nested deeper"):
        decode(deep)
    with pytest.raises(ValueError, match="nested deeper"):
        plain.check_json(deep.encode(), max_depth=6, max_items=10)
    plain.check_json('{"s": "[[[[[[[[[[[[\\"[[[["}', max_depth=2, max_items=10)


def test_messages_that_would_expand_when_parsed_are_refused(monkeypatch):
    monkeypatch.setattr(plain, "MAX_ITEMS", 1000)
    small_on_the_wire = "[" + ",".join(["[]"] * 1001) + "]"
    with pytest.raises(ValueError, match="more than 1000 values"):
        decode(small_on_the_wire)
    assert decode("[" + ",".join(["[]"] * 400) + "]") == [[]] * 400
    with pytest.raises(Unsupported, match="more than 1000 items"):
        to_plain([[]] * 1001)


def test_arrays_count_elements_not_items():
    big = np.zeros(300_000)
    assert decode(encode(big)).shape == (300_000,)
    assert plain.footprint(decode(encode(big))) >= big.nbytes
    assert plain.footprint([[], "abc"]) > 0


def test_text_budget(monkeypatch):
    monkeypatch.setattr(plain, "MAX_TEXT", 10)
    with pytest.raises(Unsupported, match="more than 10 characters"):
        to_plain(["abcdef", "ghijkl"])
