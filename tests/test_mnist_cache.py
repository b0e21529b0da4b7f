"""The reference's MNIST result is computed once per key and reused (in this process and
from the cache file); a damaged or unwritable cache costs only the training."""

from __future__ import annotations

import json

import pytest

from autograder.checks import mnist_data
from autograder.config import load_course


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_data, "_REFERENCES", {})
    return tmp_path / "cache.json"


def _config():
    return load_course()["mnist_cnn"]


def _no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the reference was trained again although its result was cached")
    monkeypatch.setattr(mnist_data, "reference_accuracy", refuse)


def test_a_second_run_reads_the_reference_from_the_cache_file(cache, monkeypatch):
    first = mnist_data.prepare_mnist(None, _config(), seed=0, cache=cache)
    assert list(json.loads(cache.read_text())) == [f"mnist-reference {first['reference_key']}"]
    monkeypatch.setattr(mnist_data, "_REFERENCES", {})      # a new process: only the file is left
    _no_training(monkeypatch)
    second = mnist_data.prepare_mnist(None, _config(), seed=0, cache=cache)
    assert (second["reference_accuracy"], second["reference_losses"]) == \
        (first["reference_accuracy"], first["reference_losses"])
    assert 0.5 < first["reference_accuracy"] <= 1.0


def test_another_seed_is_another_key_and_both_are_kept(cache):
    first = mnist_data.prepare_mnist(None, _config(), seed=0, cache=cache)
    other = mnist_data.prepare_mnist(None, _config(), seed=1, cache=cache)
    assert first["reference_key"] != other["reference_key"]
    assert len(json.loads(cache.read_text())) == 2


def test_a_damaged_entry_or_file_is_computed_again_and_replaced(cache, monkeypatch):
    first = mnist_data.prepare_mnist(None, _config(), seed=0, cache=cache)
    name = f"mnist-reference {first['reference_key']}"
    good = json.loads(cache.read_text())[name]
    for damage in ("{not json", "[1, 2]", json.dumps({name: dict(good, accuracy=2.0)}),
                   json.dumps({name: dict(good, losses="many")})):
        cache.write_text(damage)
        monkeypatch.setattr(mnist_data, "_REFERENCES", {})
        again = mnist_data.prepare_mnist(None, _config(), seed=0, cache=cache)
        assert again["reference_accuracy"] == first["reference_accuracy"]
        kept = json.loads(cache.read_text())
        assert list(kept) == [name]
        assert (kept[name]["accuracy"], kept[name]["losses"]) == (good["accuracy"], good["losses"])


def test_the_grading_run_keeps_it_in_its_output_folder(tmp_path, monkeypatch):
    from autograder.grading import CACHE_FILE, GradeOptions, grade_submissions

    monkeypatch.setattr(mnist_data, "_REFERENCES", {})
    student = tmp_path / "subs" / "alice"
    student.mkdir(parents=True)
    (student / "mnist_cnn.py").write_text("raise ImportError('not done yet')\n")
    grade_submissions(tmp_path / "subs", tmp_path / "out", GradeOptions(modules=("mnist_cnn",), workers=1))
    assert [k.split()[0] for k in json.loads((tmp_path / "out" / CACHE_FILE).read_text())] == ["mnist-reference"]


def test_an_unwritable_cache_only_costs_the_training(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    monkeypatch.setattr(mnist_data, "_REFERENCES", {})
    data = mnist_data.prepare_mnist(None, _config(), seed=0, cache=blocker / "cache.json")
    assert 0.5 < data["reference_accuracy"] <= 1.0
    assert blocker.read_text() == "a file where a folder should be"
