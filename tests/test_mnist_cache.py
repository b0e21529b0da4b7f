"""The reference's MNIST result is computed once per key and reused (in this process and
from the cache folder); a damaged, foreign or unwritable cache costs only the training."""

from __future__ import annotations

import json

import pytest

from autograder.checks import mnist_data
from autograder.config import load_course


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(mnist_data.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(mnist_data, "_REFERENCES", {})
    return tmp_path / "cache"


def _config():
    return load_course()["mnist_cnn"]


def _no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the reference was trained again although its result was cached")
    monkeypatch.setattr(mnist_data, "reference_accuracy", refuse)


def test_a_second_run_reads_the_reference_from_the_cache_folder(cache, monkeypatch):
    first = mnist_data.prepare_mnist(None, _config(), seed=0)
    files = list(cache.glob("mnist-reference-*.json"))
    assert [f.name for f in files] == [f"mnist-reference-{first['reference_key']}.json"]
    monkeypatch.setattr(mnist_data, "_REFERENCES", {})      # a new process: only the file is left
    _no_training(monkeypatch)
    second = mnist_data.prepare_mnist(None, _config(), seed=0)
    assert (second["reference_accuracy"], second["reference_losses"]) == \
        (first["reference_accuracy"], first["reference_losses"])
    assert 0.5 < first["reference_accuracy"] <= 1.0


def test_another_seed_is_another_key(cache):
    first = mnist_data.prepare_mnist(None, _config(), seed=0)
    other = mnist_data.prepare_mnist(None, _config(), seed=1)
    assert first["reference_key"] != other["reference_key"]
    assert len(list(cache.glob("mnist-reference-*.json"))) == 2


def test_a_damaged_or_foreign_file_is_ignored_and_replaced(cache, monkeypatch):
    first = mnist_data.prepare_mnist(None, _config(), seed=0)
    path = cache / f"mnist-reference-{first['reference_key']}.json"
    for damage in ("{not json", json.dumps({"accuracy": 2.0, "losses": [], "seconds": 1, "key": first["reference_key"]}),
                   json.dumps(dict(json.loads(path.read_text()), key="another key"))):
        path.write_text(damage)
        monkeypatch.setattr(mnist_data, "_REFERENCES", {})
        again = mnist_data.prepare_mnist(None, _config(), seed=0)
        assert again["reference_accuracy"] == first["reference_accuracy"]
        assert json.loads(path.read_text())["key"] == first["reference_key"]


def test_an_unwritable_cache_folder_only_costs_the_training(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv(mnist_data.CACHE_ENV, str(blocker / "cache"))
    monkeypatch.setattr(mnist_data, "_REFERENCES", {})
    data = mnist_data.prepare_mnist(None, _config(), seed=0)
    assert 0.5 < data["reference_accuracy"] <= 1.0
    assert blocker.read_text() == "a file where the cache folder should be"
