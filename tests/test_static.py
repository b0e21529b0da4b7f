"""Static checks of student source: forbidden names per task, and escape hatches."""

from __future__ import annotations

import ast

import pytest

from autograder.checks.static import escape_hatches, forbidden_uses

BANNED = ("torch.softmax", "torch.nn.functional", ".softmax", "torch.logsumexp")


def _uses(source: str, name: str = "softmax") -> list[str]:
    return [f.name for f in forbidden_uses(ast.parse(source), name, BANNED)]


@pytest.mark.parametrize("source", [
    "import torch\ndef softmax(x, dim=-1):\n    return torch.softmax(x, dim)\n",
    "import torch.nn.functional as F\ndef softmax(x, dim=-1):\n    return F.softmax(x, dim)\n",
    "from torch.nn import functional\ndef softmax(x, dim=-1):\n    return functional.softmax(x, dim)\n",
    "from torch import softmax as s\ndef softmax(x, dim=-1):\n    return s(x, dim)\n",
    "def softmax(x, dim=-1):\n    return x.softmax(dim)\n",
    "def softmax(x, dim=-1):\n    return getattr(x, 'softmax')(dim)\n",
    "import torch\nsm = torch.softmax\ndef softmax(x, dim=-1):\n    return sm(x, dim)\n",
    "import torch\ndef helper(x):\n    return torch.logsumexp(x, -1)\ndef softmax(x, dim=-1):\n    return (x - helper(x)).exp()\n",
])
def test_forbidden_calls_are_found_through_aliases_and_helpers(source):
    assert _uses(source)


@pytest.mark.parametrize("source", [
    "import torch\ndef softmax(x, dim=-1):\n    e = torch.exp(x - x.amax(dim, keepdim=True))\n    return e / e.sum(dim, keepdim=True)\n",
    "import torch\ndef other(x):\n    return torch.softmax(x, -1)\ndef softmax(x, dim=-1):\n    return x.exp() / x.exp().sum(dim, keepdim=True)\n",
])
def test_allowed_code_is_not_flagged(source):
    assert _uses(source) == []


def test_the_message_names_the_call():
    found = forbidden_uses(ast.parse("import torch\ndef softmax(x):\n    return torch.softmax(x, -1)\n"), "softmax", BANNED)
    assert [(f.name, f.line) for f in found] == [("torch.softmax", 3)]


@pytest.mark.parametrize("source,name", [
    ("import solutions.activations\n", "import solutions.activations"),
    ("from autograder.sandbox import worker\n", "from autograder.sandbox import ..."),
    ("import importlib\n", "import importlib"),
    ("x = eval('1')\n", "eval"),
    ("exec('x = 1')\n", "exec"),
    ("m = __import__('os')\n", "__import__"),
])
def test_escape_hatches(source, name):
    assert name in [f.name for f in escape_hatches(ast.parse(source))]


def test_model_eval_is_not_an_escape_hatch():
    assert escape_hatches(ast.parse("def f(model):\n    model.eval()\n    return model\n")) == []
