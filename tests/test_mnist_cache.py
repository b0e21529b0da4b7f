"""The reference's MNIST result is computed once per key and reused (in this process, from
the run's cache file and from the machine's); a damaged or unwritable cache costs only the
training."""

from __future__ import annotations

import json

import pytest

from autograder.checks import mnist_data
from autograder.config import load_course


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A run's cache file; the machine's cache is a folder of this test's own."""
    monkeypatch.setattr(mnist_data, "_REFERENCES", {})
    monkeypatch.setenv(mnist_data.ENV_CACHE, str(tmp_path / "machine"))
    return tmp_path / "cache.json"


def _machine_file(tmp_path):
    return tmp_path / "machine" / mnist_data.MACHINE_CACHE_FILE


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
    machine = cache.parent / "machine" / mnist_data.MACHINE_CACHE_FILE
    trained = []
    real = mnist_data.reference_accuracy
    monkeypatch.setattr(mnist_data, "reference_accuracy", lambda *a: trained.append(1) or real(*a))
    for damage in ("{not json", "[1, 2]", json.dumps({name: dict(good, accuracy=2.0)}),
                   json.dumps({name: dict(good, losses="many")})):
        for damaged in ((cache,), (cache, machine)):    # the run's file: read from the machine's
            for path in damaged:
                path.write_text(damage)
            monkeypatch.setattr(mnist_data, "_REFERENCES", {})
            before = len(trained)
            again = mnist_data.prepare_mnist(None, _config(), seed=0, cache=cache)
            assert len(trained) - before == len(damaged) - 1          # trained only when both were damaged
            assert again["reference_accuracy"] == first["reference_accuracy"]
            for path in (cache, machine):
                kept = json.loads(path.read_text())
                assert list(kept) == [name]
                assert (kept[name]["accuracy"], kept[name]["losses"]) == (good["accuracy"], good["losses"])


def test_the_grading_run_keeps_it_in_its_output_folder(tmp_path, monkeypatch):
    from autograder.grading import CACHE_FILE, GradeOptions, grade_submissions

    monkeypatch.setattr(mnist_data, "_REFERENCES", {})
    monkeypatch.setenv(mnist_data.ENV_CACHE, str(tmp_path / "machine"))
    student = tmp_path / "subs" / "alice"
    student.mkdir(parents=True)
    (student / "mnist_cnn.py").write_text("raise ImportError('not done yet')\n")
    grade_submissions(tmp_path / "subs", tmp_path / "out", GradeOptions(modules=("mnist_cnn",), workers=1))
    assert [k.split()[0] for k in json.loads((tmp_path / "out" / CACHE_FILE).read_text())] == ["mnist-reference"]


def test_an_unwritable_cache_only_costs_the_training(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    monkeypatch.setattr(mnist_data, "_REFERENCES", {})
    monkeypatch.setenv(mnist_data.ENV_CACHE, str(blocker / "machine"))     # cannot be made either
    assert mnist_data.machine_cache() is None
    data = mnist_data.prepare_mnist(None, _config(), seed=0, cache=blocker / "cache.json")
    assert 0.5 < data["reference_accuracy"] <= 1.0
    assert blocker.read_text() == "a file where a folder should be"


def test_a_new_output_folder_reads_the_machines_cache(cache, tmp_path, monkeypatch):
    first = mnist_data.prepare_mnist(None, _config(), seed=0, cache=cache)
    machine = json.loads(_machine_file(tmp_path).read_text())
    assert list(machine) == [f"mnist-reference {first['reference_key']}"]
    monkeypatch.setattr(mnist_data, "_REFERENCES", {})      # a new process, a new course record
    _no_training(monkeypatch)
    other = tmp_path / "other-record" / "cache.json"
    other.parent.mkdir()
    second = mnist_data.prepare_mnist(None, _config(), seed=0, cache=other)
    assert (second["reference_accuracy"], second["reference_losses"]) == \
        (first["reference_accuracy"], first["reference_losses"])
    assert json.loads(other.read_text()) == machine        # the new record keeps it too
    assert mnist_data.prepare_mnist(None, _config(), seed=0, cache=None)["reference_accuracy"] == \
        first["reference_accuracy"]                          # a run without a record (try, a Dask worker)


def test_the_machines_cache_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(mnist_data.ENV_CACHE, str(tmp_path / "mine"))
    assert mnist_data.machine_cache() == tmp_path / "mine" / mnist_data.MACHINE_CACHE_FILE
    monkeypatch.setenv(mnist_data.ENV_CACHE, "")
    assert mnist_data.machine_cache() is None                # set and empty: no machine cache
    monkeypatch.delenv(mnist_data.ENV_CACHE)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist_data.machine_cache() == tmp_path / "xdg" / "autograder" / mnist_data.MACHINE_CACHE_FILE
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist_data.machine_cache() == tmp_path / "home" / ".cache" / "autograder" / mnist_data.MACHINE_CACHE_FILE


def test_the_key_names_the_cpu_kernels(cache, monkeypatch):
    first = mnist_data.prepare_mnist(None, _config(), seed=0, cache=cache)["reference_key"]
    monkeypatch.setattr(mnist_data.torch.backends.cpu, "get_cpu_capability", lambda: "ANOTHER_CPU")
    assert mnist_data.reference_key(*_data_and_budget()) != first


def _data_and_budget():
    data = mnist_data.prepare_mnist(None, _config(), seed=0, cache=None)
    return data, data["budget"]
