"""Static checks of a student's source (grader side, on the AST; nothing is executed).

- Forbidden names per task (``not_allowed`` in the configuration). What counts is code
  that runs when the task is called (the handout): the task's own function or class
  (its decorators, base classes, default arguments and body) and, transitively, every
  module-level helper, class or value it refers to by name (``sm = torch.softmax``,
  ``act = nn.Tanh()``, ``from torch.nn import Linear``). A use there of a forbidden
  name, through any import alias, attribute chain (``torch.nn.modules.activation.Tanh``
  is ``torch.nn.Tanh``: names are compared by the object PyTorch binds them to),
  ``getattr(obj, "name")``, or a forbidden tensor method (``x.softmax()``, and its
  in-place form ``x.softmax_()``), loses that task's points with a message naming it.
  Not counted, because they call nothing when the task runs: code under
  ``if __name__ == "__main__":``, module-level code the task does not refer to (a
  notebook's training loop, a self-test), other functions, type annotations, the classes
  of a type test (``isinstance(w, nn.Linear)``, ``issubclass``, ``type(w) is nn.Linear``,
  ``case nn.Linear():``), docstrings and comments.
- Escapes from the sandbox's rules, anywhere in the module: importing ``autograder``,
  ``solutions`` or ``importlib``, and using ``__import__``, ``exec``, ``eval`` or
  ``compile``.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from typing import Any, Iterator

from .. import pyparse

__all__ = ["Finding", "forbidden_uses", "escape_hatches", "parse"]

ESCAPE_IMPORTS = ("autograder", "solutions", "importlib")
ESCAPE_BUILTINS = ("__import__", "exec", "eval", "compile")
# Libraries whose names are resolved to objects (the grader's own dependencies; nothing
# else is ever imported for a student's name).
RESOLVABLE_ROOTS = ("torch", "torchvision", "numpy")


@dataclass(frozen=True)
class Finding:
    name: str      # what was used, e.g. "torch.softmax", ".softmax" or "nn.Tanh (that is torch.nn.Tanh)"
    line: int


def parse(source: bytes) -> ast.Module | None:
    """The module's AST, or None when it does not parse (the import reports why)."""
    try:
        return pyparse.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted origin, for every import anywhere in the module.

    Computed once per tree and kept on it (a parsed tree is never changed): the rules ask
    for it once per task, and each time it walks the whole module."""
    cached = tree.__dict__.get("_autograder_aliases")
    if cached is None:
        cached = tree.__dict__["_autograder_aliases"] = _find_aliases(tree)
    return cached


def _find_aliases(tree: ast.Module) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    root = aliases.get(node.id, node.id)
    return ".".join([root] + parts[::-1])


def _matches(used: str, banned: str) -> bool:
    """By spelling: the name itself, anything inside it, or its in-place form (``torch.relu_``)."""
    return used == banned or used.startswith(banned + ".") or used == banned + "_"


def _objects(dotted: str) -> list[Any]:
    """The objects the prefixes of ``dotted`` name in an imported library ([] if none).

    ``torch.nn.modules.activation.Tanh`` -> [torch, torch.nn, ..., the class Tanh]; stops
    at the first name that does not resolve. Only libraries the grader has imported are
    looked into, with getattr: a student's name never imports anything here.
    """
    parts = dotted.split(".")
    if parts[0] not in RESOLVABLE_ROOTS:
        return []
    obj = sys.modules.get(parts[0]) or _library(parts[0])
    if obj is None:
        return []
    found = [obj]
    for part in parts[1:]:
        try:
            obj = getattr(obj, part)
        except Exception:
            break
        found.append(obj)
    return found


def _library(name: str) -> Any:
    """One of RESOLVABLE_ROOTS, imported (the grader's own libraries, never a student's name)."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _is_main_guard(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (either order of the comparison)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    return any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) and \
        any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)


def _module_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements that run at import, into if/try/with blocks; never the
    body of an ``if __name__ == "__main__":`` block (it does not run when graded)."""
    for node in body:
        if _is_main_guard(node):
            yield from _module_statements(node.orelse)
        elif isinstance(node, ast.If):
            yield from _module_statements(node.body)
            yield from _module_statements(node.orelse)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            for block in (node.body, node.orelse, node.finalbody):   # type: ignore[attr-defined]
                yield from _module_statements(block)
            for handler in node.handlers:                             # type: ignore[attr-defined]
                yield from _module_statements(handler.body)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            yield from _module_statements(node.body)
        else:
            yield node


def _target_names(target: ast.AST) -> Iterator[str]:
    for node in ast.walk(target):
        if isinstance(node, ast.Name):
            yield node.id


def _bindings(tree: ast.Module) -> dict[str, list[ast.AST]]:
    """Module-level name -> what runs when that name is used: a def or class (all of it),
    or the value of an assignment (``sm = torch.softmax``; an annotation is not a value)."""
    bound: dict[str, list[ast.AST]] = {}
    for node in _module_statements(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for name in _target_names(target):
                    bound.setdefault(name, []).append(node.value)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            for name in _target_names(node.target):
                bound.setdefault(name, []).append(node.value)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            for name in _target_names(node.target):
                bound.setdefault(name, []).append(node)
    return bound


def _local_names(func: ast.AST) -> set[str]:
    """Parameters and names assigned inside a function or lambda (they shadow module names)."""
    args = func.args  # type: ignore[attr-defined]
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    body = func.body if isinstance(func.body, list) else [func.body]  # type: ignore[attr-defined]
    declared_global: set[str] = set()
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Global):
                declared_global.update(node.names)
    return names - declared_global


def _runtime_nodes(root: ast.AST) -> Iterator[tuple[ast.AST, frozenset[str]]]:
    """Every node of ``root`` that is evaluated when it runs, with the local names in scope;
    type annotations (of arguments, returns and variables) are left out. Iterative: a
    deeply nested expression must not exhaust the grader's stack."""
    stack: list[tuple[ast.AST, frozenset[str]]] = [(root, frozenset())]
    while stack:
        node, local = stack.pop()
        yield node, local
        children: list[ast.AST]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            outside = list(args.defaults) + [d for d in args.kw_defaults if d is not None]
            if not isinstance(node, ast.Lambda):
                outside += node.decorator_list
            stack.extend((child, local) for child in reversed(outside))
            inner = local | _local_names(node)
            body = node.body if isinstance(node.body, list) else [node.body]
            stack.extend((child, inner) for child in reversed(body))
            continue
        if isinstance(node, ast.ClassDef):
            children = node.decorator_list + node.bases + [k.value for k in node.keywords] + node.body
        elif _is_type_test(node, local):
            children = [node.func, node.args[0]]    # the class tested against is not called
        elif isinstance(node, ast.Compare) and all(isinstance(op, _IDENTITY_TESTS) for op in node.ops):
            # type(w) is nn.Linear, type(w) in (nn.Linear, nn.Conv2d): compared, not called
            children = [side for side in (node.left, *node.comparators) if not _only_refers(side)]
        elif isinstance(node, ast.MatchClass):
            children = list(node.patterns) + list(node.kwd_patterns)   # case nn.Linear(): a type test
        elif isinstance(node, ast.AnnAssign):
            children = [c for c in (node.target, node.value) if c is not None]
        else:
            children = list(ast.iter_child_nodes(node))
        stack.extend((child, local) for child in reversed(children))


_IDENTITY_TESTS = (ast.Is, ast.IsNot, ast.Eq, ast.NotEq, ast.In, ast.NotIn)
# What an expression may hold and still only name things: names, attributes, tuples, lists
# and sets of them, and the operators that combine classes (``nn.Linear | nn.Module``,
# ``(nn.Linear,) + (nn.Bilinear,)``); no call, subscript, lambda or comprehension.
_REFERENCE_NODES = (ast.Name, ast.Attribute, ast.Tuple, ast.List, ast.Set, ast.BinOp, ast.BitOr, ast.Add,
                    ast.Load, ast.Constant)


def _only_refers(node: ast.AST) -> bool:
    """Whether evaluating ``node`` only looks names up (so it calls nothing it names)."""
    return all(isinstance(part, _REFERENCE_NODES) for part in ast.walk(node))


def _is_type_test(node: ast.AST, local: frozenset[str]) -> bool:
    """``isinstance(x, C)`` or ``issubclass(x, C)`` (the builtins), where ``C`` only names
    classes (``nn.Linear``, ``(nn.ReLU, nn.Tanh)``, ``nn.Linear | nn.Module``): it tests a
    type and calls nothing of ``C``, like an annotation (the handout counts calls)."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("isinstance", "issubclass") and node.func.id not in local
            and len(node.args) == 2 and not node.keywords and _only_refers(node.args[1]))


class _Banned:
    """The ``not_allowed`` list, matched by spelling and by the object a name is bound to."""

    def __init__(self, not_allowed: tuple[str, ...]):
        self.methods = tuple(b[1:] for b in not_allowed if b.startswith("."))
        self.dotted = tuple(b for b in not_allowed if not b.startswith("."))
        self.by_id: dict[int, str] = {}
        for name in self.dotted:
            objects = _objects(name)
            if len(objects) == len(name.split(".")):
                self.by_id.setdefault(id(objects[-1]), name)
        self._keep = [_objects(n) for n in self.dotted]     # keep the objects alive while ids are compared

    def method(self, attr: str) -> bool:
        return attr in self.methods or attr.endswith("_") and attr[:-1] in self.methods

    def dotted_name(self, used: str) -> str | None:
        """How ``used`` is reported when it is forbidden, else None."""
        if any(_matches(used, b) for b in self.dotted):
            return used
        for obj in _objects(used):
            banned = self.by_id.get(id(obj))
            if banned is not None:
                return f"{used} (that is {banned})"
        return None


def forbidden_uses(tree: ast.Module, name: str, not_allowed: tuple[str, ...]) -> list[Finding]:
    """Uses of ``not_allowed`` names by the code that runs when the task ``name`` is called
    (its definition and the module-level helpers and values it reaches by name)."""
    if not not_allowed:
        return []
    aliases = _aliases(tree)
    bindings = _bindings(tree)
    banned = _Banned(not_allowed)
    defined = frozenset(n for n, nodes in bindings.items()
                        if any(isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for b in nodes))
    findings: list[Finding] = []
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in aliases and current not in bindings:    # the task itself is an imported name
            used = banned.dotted_name(aliases[current])
            if used:
                findings.append(Finding(used, _import_line(tree, current)))
        for body in bindings.get(current, ()):
            for node, local in _runtime_nodes(body):
                if isinstance(node, ast.Name) and node.id not in local:
                    if node.id in bindings:
                        todo.append(node.id)
                found = _check_node(node, local, aliases, banned, defined)
                if found:
                    findings.append(found)
    return _dedupe(findings)


def _import_line(tree: ast.Module, local_name: str) -> int:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) == local_name or alias.name == local_name:
                    return node.lineno
    return 1


def _check_node(node: ast.AST, local: frozenset[str], aliases: dict[str, str], banned: _Banned,
                defined: frozenset[str] = frozenset()) -> Finding | None:
    """A forbidden use at ``node``, if any. ``defined``: names the module defines with def or
    class, which win over an import of the same name (the student's own one_hot)."""
    if isinstance(node, ast.Attribute):
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        shadowed = isinstance(root, ast.Name) and root.id in local and root.id not in aliases
        used = None if shadowed else _dotted(node, aliases)
        reported = banned.dotted_name(used) if used else None
        if reported:
            return Finding(reported, node.lineno)
        if banned.method(node.attr):
            return Finding("." + node.attr, node.lineno)
        return None
    if isinstance(node, ast.Name) and node.id in aliases and node.id not in local and node.id not in defined:
        reported = banned.dotted_name(aliases[node.id])
        return Finding(reported, node.lineno) if reported else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
            and node.func.id not in local:
        args = node.args
        if len(args) >= 2 and isinstance(args[1], ast.Constant) and isinstance(args[1].value, str):
            attr = args[1].value
            owner = _dotted(args[0], aliases)
            reported = banned.dotted_name(f"{owner}.{attr}") if owner else None
            if reported:
                return Finding(f"getattr({owner}, {attr!r})" if "(that is" not in reported else reported,
                               node.lineno)
            if banned.method(attr):
                return Finding("." + attr, node.lineno)
    return None


def _dedupe(findings: list[Finding]) -> list[Finding]:
    unique = {(f.name, f.line): f for f in findings}
    # Report the outermost dotted name once per line (torch.nn.functional.softmax, not also torch.nn.functional).
    result = sorted(unique.values(), key=lambda f: (f.line, -len(f.name)))
    deduped: list[Finding] = []
    for f in result:
        if deduped and deduped[-1].line == f.line and deduped[-1].name.startswith(f.name.split(" (")[0]):
            continue
        deduped.append(f)
    return deduped


def escape_hatches(tree: ast.Module) -> list[Finding]:
    """Imports of the grader's own code or of importlib, and uses of exec/eval/__import__."""
    findings: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ESCAPE_IMPORTS:
                    findings.append(Finding(f"import {alias.name}", node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ESCAPE_IMPORTS:
            findings.append(Finding(f"from {node.module} import ...", node.lineno))
        elif isinstance(node, ast.Name) and node.id in ESCAPE_BUILTINS:
            findings.append(Finding(node.id, node.lineno))
        elif isinstance(node, ast.Attribute) and node.attr in ("__import__",):
            findings.append(Finding(node.attr, node.lineno))
    return sorted(set(findings), key=lambda f: (f.line, f.name))
