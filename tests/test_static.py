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


# -- what counts is code that runs when the task is called (handout, clarified 2026-12-01) --
ACTIVATIONS = ("torch.sigmoid", "torch.tanh", "torch.nn.functional", "torch.special", "torch.nn.Tanh",
               "torch.nn.Softmax", "torch.nn.CrossEntropyLoss", ".sigmoid", ".tanh", ".softmax")
LINEAR = ("torch.nn.functional.linear", "torch.nn.Linear")


@pytest.mark.parametrize("source,name,banned,expected", [
    ("import torch\ndef tanh(x):\n    return 2 * torch.special.expit(2 * x) - 1\n", "tanh", ACTIVATIONS,
     "torch.special.expit"),
    ("from torch import nn\ndef tanh(x):\n    return nn.Tanh()(x)\n", "tanh", ACTIVATIONS, "torch.nn.Tanh"),
    ("import torch\ndef tanh(x):\n    return torch.nn.modules.activation.Tanh()(x)\n", "tanh", ACTIVATIONS,
     "torch.nn.modules.activation.Tanh (that is torch.nn.Tanh)"),
    ("from torch.nn.modules.activation import Tanh as T\n_t = T()\ndef tanh(x):\n    return _t(x)\n", "tanh",
     ACTIVATIONS, "torch.nn.modules.activation.Tanh (that is torch.nn.Tanh)"),
    ("import torch.nn as nn\nloss = nn.CrossEntropyLoss()\ndef ce(x, y):\n    return loss(x, y)\n", "ce",
     ACTIVATIONS, "torch.nn.CrossEntropyLoss"),
    ("def sig(x):\n    return x.sigmoid_()\n", "sig", ACTIVATIONS, ".sigmoid_"),
    ("import torch\ndef sig(x):\n    return getattr(torch, 'sigmoid')(x)\n", "sig", ACTIVATIONS,
     "getattr(torch, 'sigmoid')"),
    ("import torch\ndef one_hot(x, n):\n    return torch._C._nn.one_hot(x, n)\n", "one_hot",
     ("torch.nn.functional.one_hot",), "torch._C._nn.one_hot (that is torch.nn.functional.one_hot)"),
    ("import torch\nfrom torch import nn\nclass Linear(nn.Linear):\n    pass\n", "Linear", LINEAR, "torch.nn.Linear"),
    ("from torch.nn import Linear\n", "Linear", LINEAR, "torch.nn.Linear"),
    ("import torch.nn as nn\ndef helper(x, w):\n    return nn.functional.linear(x, w)\n"
     "def linear_forward(x, w, b=None):\n    h = helper\n    return h(x, w)\n", "linear_forward", LINEAR,
     "torch.nn.functional.linear"),
    ("import torch\nif True:\n    def helper(x):\n        return torch.sigmoid(x)\n"
     "def sig(x):\n    return helper(x)\n", "sig", ACTIVATIONS, "torch.sigmoid"),
])
def test_real_uses_are_found_through_aliases_helpers_and_module_values(source, name, banned, expected):
    assert expected in [f.name for f in forbidden_uses(ast.parse(source), name, banned)]


@pytest.mark.parametrize("source,name,banned", [
    # a self-test under the main guard runs only when the file is run as a script
    ("import torch\nimport torch.nn.functional as F\ndef one_hot(labels, n):\n"
     "    return (labels[:, None] == torch.arange(n)).float()\n"
     "if __name__ == '__main__':\n    assert torch.equal(one_hot(torch.tensor([1]), 3), F.one_hot(torch.tensor([1]), 3).float())\n",
     "one_hot", ("torch.nn.functional.one_hot",)),
    ("import torch\nfrom torch import nn\ndef linear_forward(x, weight, bias=None):\n    return x @ weight.T\n"
     "class Linear(nn.Module):\n    def __init__(self, a: int, b: int, bias: bool = True):\n        super().__init__()\n"
     "        self.spare: nn.Linear | None = None\n    def forward(self, x) -> torch.Tensor:\n"
     "        return linear_forward(x, self.weight)\n"
     "if '__main__' == __name__:\n    ref = nn.Linear(2, 3)\n    import torch.nn.functional as F\n"
     "    print(F.linear(torch.ones(2), ref.weight))\n", "Linear", LINEAR),
    # type annotations, docstrings and comments call nothing
    ("import torch.nn as nn\ndef layer(n: nn.Linear) -> nn.Linear:\n    '''like nn.Linear'''\n    return n  # nn.Linear\n"
     "def linear_forward(x, w, b=None):\n    return layer(x)\n", "linear_forward", LINEAR),
    # module-level code the task does not refer to (a notebook's experiment)
    ("import torch\nfrom torch import nn\ndef linear_forward(x, weight, bias=None):\n    return x @ weight.T\n"
     "baseline = nn.Linear(2, 2)\nprint(baseline(torch.ones(2)))\n", "linear_forward", LINEAR),
    # a type test: isinstance / issubclass against a forbidden class calls nothing of it
    ("import torch\nfrom torch import nn\nLin = nn.Linear\ndef linear_forward(x, weight, bias=None):\n"
     "    if isinstance(weight, nn.Linear) or isinstance(weight, (Lin, torch.nn.modules.linear.Linear)):\n"
     "        raise TypeError('pass the weight tensor, not a layer')\n"
     "    if isinstance(x, type) and issubclass(x, nn.Linear):\n        raise TypeError('not a class')\n"
     "    if isinstance(weight, nn.Linear | nn.Module) or isinstance(weight, (nn.Linear,) + (nn.Bilinear,)):\n"
     "        raise TypeError\n"
     "    if type(weight) is nn.Linear or type(weight) in (nn.Linear, Lin) or type(weight) == torch.nn.Linear:\n"
     "        raise TypeError\n"
     "    match weight:\n        case nn.Linear():\n            raise TypeError\n"
     "    return x @ weight.T\n", "linear_forward", LINEAR),
    # a local variable that happens to share a module-level helper's name
    ("import torch\ndef helper(x):\n    return torch.sigmoid(x)\ndef sig(x):\n    helper = torch.exp\n"
     "    return 1 / (1 + helper(-x))\n", "sig", ("torch.sigmoid",)),
])
def test_code_that_does_not_run_when_the_task_is_called_costs_nothing(source, name, banned):
    assert forbidden_uses(ast.parse(source), name, banned) == []


@pytest.mark.parametrize("test", [
    "isinstance(weight, make())",                 # the class expression calls make(), which builds one
    "isinstance(weight, (nn.ReLU, make()))",
    "isinstance(nn.Linear(2, 2), type(weight))",  # the first argument is evaluated as usual
    "type(weight) is type(nn.Linear(1, 1))",      # a comparison that builds one
    "isinstance(weight, [nn.Linear][0] or nn.Linear)",
])
def test_a_type_test_that_calls_something_still_counts(test):
    source = ("from torch import nn\ndef make():\n    return type(nn.Linear(1, 1))\n"
              f"def linear_forward(x, weight, bias=None):\n    if {test}:\n        raise TypeError\n    return x @ weight.T\n")
    assert forbidden_uses(ast.parse(source), "linear_forward", LINEAR)


def test_a_deeply_nested_expression_does_not_exhaust_the_stack():
    source = "import torch\ndef f(x):\n    return " + " + ".join(["x"] * 700) + " + torch.sigmoid(x)\n"
    assert [f.name for f in forbidden_uses(ast.parse(source), "f", ("torch.sigmoid",))] == ["torch.sigmoid"]


def test_a_def_wins_over_an_import_of_the_same_name():
    source = ("from torch.nn.functional import one_hot\nimport torch\n"
              "def one_hot(labels, n):\n    if labels.dim() > 1:\n        return torch.stack([one_hot(r, n) for r in labels])\n"
              "    return (labels[:, None] == torch.arange(n)).float()\n")
    assert forbidden_uses(ast.parse(source), "one_hot", ("torch.nn.functional.one_hot",)) == []
