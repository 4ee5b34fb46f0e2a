"""cnnlab.grading.variants: the lecture's numbers by default, each student's own otherwise.

The visible numbers are a public function of (assignment, student id), so the one
released notebook can show them; hidden cases are keyed by the course secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys

import pytest

from cnnlab import examples, shapes
from cnnlab.grading import ASSIGNMENTS, hidden_case_seed, variant_for
from cnnlab.grading.questions import assignment_module
from cnnlab.grading.variants import (
    RECORD_MIME,
    Draw,
    default_variant,
    read_secret,
    show_variant,
    student_from_environment,
    variant_cell_source,
)

_PS1 = assignment_module("ps1_shapes_params")
cs109b_params, separable, vgg16_memory = _PS1.cs109b_params, _PS1.separable, _PS1.vgg16_memory

STUDENTS = [f"student{i:03d}" for i in range(150)]
SECRET = "0123456789abcdef" * 4
# Pinned: released notebooks show these numbers; a change would regrade people.
PINNED_ALICE_PS2 = {"H": 8, "W": 6, "K": 4, "stride": 1, "padding": 2}


def test_the_default_variants_are_the_lectures_numbers():
    ps1 = variant_for("ps1_shapes_params")
    assert shapes.conv_output_size(ps1["n_fit"], ps1["k_fit"], ps1["s_fit"]) == (
        examples.CS231N_7_K3_S2_OUTPUT
    )
    assert not shapes.fits(ps1["n_fit"], ps1["k_fit"], ps1["s_nofit"])  # CS231n's stride 3
    assert sum(cs109b_params(ps1)) == examples.CS109B_TOTAL_PARAMS
    assert separable(ps1) == (
        examples.MOBILENET_STANDARD_PARAMS,
        examples.MOBILENET_SEPARABLE_PARAMS,
        examples.MOBILENET_STANDARD_MACS,
        examples.MOBILENET_SEPARABLE_MACS,
    )
    assert vgg16_memory()[0] == examples.VGG16_ACTIVATIONS
    assert variant_for("ps2_conv") == {"H": 7, "W": 7, "K": 3, "stride": 2, "padding": 0}
    assert variant_for("ps3_pooling") == {"x_transpose": 0, "dout_rotation": 0, "dout_scale": 1}
    ps4 = variant_for("ps4_receptive_saliency_transfer")
    assert (ps4["vgg_layers"], ps4["strided_layers"], ps4["dilation_base"]) == (2, 2, 2)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_student_id_gives_the_default(assignment):
    default = default_variant(assignment)
    assert variant_for(assignment) == default
    assert variant_for(assignment, None) == default
    assert variant_for(assignment, "") == default


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_variants_are_reproducible_and_personal(assignment):
    first = [variant_for(assignment, s) for s in STUDENTS]
    assert first == [variant_for(assignment, s) for s in STUDENTS]
    assert all(set(v) == set(default_variant(assignment)) for v in first)
    assert all(type(x) is int for v in first for x in v.values())
    distinct = {tuple(sorted(v.items())) for v in first}
    # ps3 has 23 possible variants, ps4 4*3*2*3*2 = 144
    assert len(distinct) > {"ps3_pooling": 20, "ps4_receptive_saliency_transfer": 60}.get(
        assignment, 100
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_visible_numbers_need_no_secret(assignment):
    # The released notebook computes them without the course secret, which never ships.
    assert [variant_for(assignment, s, SECRET) for s in STUDENTS[:20]] == [
        variant_for(assignment, s) for s in STUDENTS[:20]
    ]


def test_drawn_ps1_numbers_make_valid_exercises():
    for student in STUDENTS:
        v = variant_for("ps1_shapes_params", student)
        assert shapes.fits(v["n_fit"], v["k_fit"], v["s_fit"])
        assert v["s_fit"] > 1
        assert not shapes.fits(v["n_fit"], v["k_fit"], v["s_nofit"])
        assert shapes.conv_output_size(v["n_dil"], v["k_dil"], dilation=v["d_dil"]) >= 1
        assert v["sep_n"] > v["sep_k"]
        assert 1 <= v["p_pad"] <= v["k_pad"] // 2 + 1


def test_drawn_ps2_and_ps3_numbers_make_valid_exercises():
    for student in STUDENTS:
        v = variant_for("ps2_conv", student)
        assert v["H"] >= v["K"] + 2
        assert v["W"] >= v["K"] + 2
        w = variant_for("ps3_pooling", student)
        assert w != default_variant("ps3_pooling")


def test_the_secret_seeds_an_hmac_of_assignment_and_student():
    digest = hmac.new(SECRET.encode(), b"ps2_conv:alice:cases", hashlib.sha256).digest()
    assert hidden_case_seed("ps2_conv", "alice", SECRET) == int.from_bytes(digest, "big")
    seeds = {hidden_case_seed(a, s, SECRET) for a in ASSIGNMENTS for s in STUDENTS[:20]}
    assert len(seeds) == 80
    assert hidden_case_seed("ps2_conv", "alice") == hidden_case_seed("ps2_conv", "alice")


def test_draw_is_a_fixed_stream():
    draw = Draw(b"seed")
    values = [draw.integer(1, 6) for _ in range(200)]
    assert set(values) == {1, 2, 3, 4, 5, 6}
    fresh = Draw(b"seed")
    assert [fresh.integer(1, 6) for _ in range(200)] == values
    assert Draw(b"seed").choice("abc") in "abc"
    with pytest.raises(ValueError, match="empty range"):
        draw.integer(2, 1)
    with pytest.raises(ValueError, match="no options"):
        draw.choice([])


def test_a_known_student_keeps_the_same_numbers():
    assert variant_for("ps2_conv", "alice") == PINNED_ALICE_PS2


def test_the_identity_is_the_jupyterhub_user(monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    assert student_from_environment() is None
    monkeypatch.setenv("JUPYTERHUB_USER", "")
    assert student_from_environment() is None
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    assert student_from_environment() == "alice"


def test_show_variant_prints_the_environments_student(monkeypatch, capsys):
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    assert show_variant("ps2_conv") == PINNED_ALICE_PS2
    out = capsys.readouterr().out
    assert out.startswith("Your numbers for ps2_conv, those of student alice:\n")
    assert "stride = 1" in out
    assert show_variant("ps2_conv", student="bob") == variant_for("ps2_conv", "bob")
    monkeypatch.delenv("JUPYTERHUB_USER")
    assert show_variant("ps2_conv") == default_variant("ps2_conv")
    assert "those of the lecture (no student id" in capsys.readouterr().out


def _run_cell_in_kernel(source: str, env: dict[str, str]) -> list[dict]:
    """Outputs of ``source`` run in a fresh IPython kernel (as a notebook runs it)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute(env=env)
    return nb.cells[0].outputs


def test_the_variant_cell_records_whose_numbers_it_showed():
    env = {k: v for k, v in os.environ.items() if k != "JUPYTERHUB_USER"}
    env["JUPYTERHUB_USER"] = "alice"
    (output,) = _run_cell_in_kernel(variant_cell_source("ps2_conv"), env)
    assert output["output_type"] == "display_data"
    assert output["data"]["text/plain"].startswith("Your numbers for ps2_conv, those of "
                                                   "student alice:")
    record = output["data"][RECORD_MIME]
    assert record == {"assignment": "ps2_conv", "student": "alice",
                      "variant": PINNED_ALICE_PS2}
    json.dumps(record)  # plain JSON: it travels in the notebook file


def test_a_personalized_cell_shows_its_student_whoever_runs_it():
    source = variant_cell_source("ps2_conv", "bob")
    assert source.endswith('VARIANT = show_variant("ps2_conv", student=\'bob\')')
    result = subprocess.run(
        [sys.executable, "-c", source + "\nprint(VARIANT)"], capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "JUPYTERHUB_USER": "carol"}, check=True)
    assert "those of student bob" in result.stdout
    assert repr(variant_for("ps2_conv", "bob")) in result.stdout


def test_read_secret_prefers_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNLAB_COURSE_SECRET", raising=False)
    monkeypatch.delenv("CNNLAB_COURSE_SECRET_FILE", raising=False)
    assert read_secret() is None
    assert read_secret(tmp_path / "missing") is None
    default = tmp_path / "course_secret"
    default.write_text("  from-default-file\n")
    assert read_secret(default) == "from-default-file"
    named = tmp_path / "named"
    named.write_text("from-named-file")
    monkeypatch.setenv("CNNLAB_COURSE_SECRET_FILE", str(named))
    assert read_secret(default) == "from-named-file"
    monkeypatch.setenv("CNNLAB_COURSE_SECRET", "from-env")
    assert read_secret(default) == "from-env"
    monkeypatch.setenv("CNNLAB_COURSE_SECRET", "  from-env\n")
    assert read_secret(default) == "from-env"
