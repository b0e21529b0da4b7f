"""Build the MNIST slice shipped with the grader (``autograder/data/mnist/``).

    .venv/bin/python autograder/data/build_mnist_slice.py --root ../shared/data/mnist-5k

Reads a torchvision MNIST root (``ROOT/MNIST/raw/`` with the four IDX files), draws the
images the accuracy check grades on exactly as :func:`autograder.checks.mnist_data.prepare_mnist`
draws them from a root at ``--seed 0`` (``[accuracy]`` of ``assignments/05_mnist_cnn/config.toml``:
``train_images`` of the training split, ``test_images`` of the test split, each subset in
the root's order), and writes them as gzip-compressed IDX files (the format MNIST is
distributed in; no timestamp in the gzip header, so the output is byte-identical for the
same input) with ``manifest.json``: the recipe, the SHA-256 of the source files, of
each decompressed file (checked every time the slice is loaded) and of each shipped file.
``--check`` rebuilds in memory and exits 1 when the shipped files differ.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "mnist"
RAW = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
       "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build(root: Path) -> dict[str, bytes]:
    """The shipped files (name -> bytes): four ``*.gz`` IDX files and ``manifest.json``."""
    import torch

    from autograder.checks.mnist_data import Budget, _subset, idx_bytes, load_split
    from autograder.config import load_course

    accuracy = load_course()["mnist_cnn"].accuracy
    budget = Budget.from_config(accuracy, 0)
    source = {name: _sha256((root / "MNIST" / "raw" / file).read_bytes()) for name, file in RAW.items()}
    arrays: dict[str, torch.Tensor] = {}
    for train, key, seed in ((True, "train", budget.seed), (False, "test", budget.seed + 2)):
        images, labels = load_split(root, train, download=False)
        index = _subset(len(images), getattr(accuracy, f"{key}_images"), seed, f"{key}_images", root)
        arrays[f"{key}_images"], arrays[f"{key}_labels"] = images[index], labels[index].to(torch.uint8)
    files: dict[str, bytes] = {}
    raw_sha, gz_sha = {}, {}
    for name, array in arrays.items():
        data = idx_bytes(array)
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
            gz.write(data)
        files[RAW[name] + ".gz"] = buffer.getvalue()
        raw_sha[RAW[name]] = _sha256(data)
        gz_sha[RAW[name] + ".gz"] = _sha256(buffer.getvalue())
    manifest = {
        "what": "the MNIST images and labels the mnist_cnn accuracy check trains and tests on",
        "recipe": {"script": "autograder/data/build_mnist_slice.py", "config": "assignments/05_mnist_cnn/config.toml",
                   "accuracy_seed": accuracy.seed, "run_seed": 0,
                   "train_images": accuracy.train_images, "test_images": accuracy.test_images},
        "source_sha256": {RAW[name]: digest for name, digest in source.items()},
        "sha256": raw_sha,
        "shipped_sha256": gz_sha,
        "licence": "MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0",
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="a torchvision MNIST root (ROOT/MNIST/raw/)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the shipped files are not what this builds")
    args = parser.parse_args(argv)
    files = build(args.root)
    if args.check:
        stale = [name for name, data in files.items() if not (OUT / name).is_file() or (OUT / name).read_bytes() != data]
        print("stale: " + ", ".join(stale) if stale else "the shipped MNIST slice is up to date")
        return 1 if stale else 0
    OUT.mkdir(exist_ok=True)
    for name, data in files.items():
        (OUT / name).write_bytes(data)
        print(f"{OUT / name}: {len(data):,} bytes")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main())
