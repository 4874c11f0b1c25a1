"""The package's import layering: what each module may import.

The engine is at the bottom. The step-through (`stepper`, `explain`, `forward`) and the
higher-order code (`derivatives`) build on it and import neither the pictures (`viz`) nor the
models (`nn`); what they share with the pictures, the number format, is below both
(`formatting`). The engine's convenience methods reach up lazily (``Value.backward_steps``,
``Value.backward(create_graph=True)``), and so does a step's picture (``BackwardStep.graph``).
``import microgradlike`` loads neither the compiler nor the batched replay: `fit` loads them when
it runs a compiled engine, `trace` when it is called.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "microgradlike"

#: Every import made inside a function (lazily), and why it is not at the top of its module.
LAZY = {
    ("engine", "stepper"): "Value.backward_steps, a convenience: the stepper builds on the engine",
    ("engine", "derivatives"): "Value.backward(create_graph=True): higher-order code builds on the engine",
    ("stepper", "viz"): "BackwardStep.graph: a step's picture is drawn by the pictures, which know steps",
    ("trainers", "compiled_engines"): "the tape and batched engines, and the compiler: loaded when used",
}
#: The compiler and the replays it generates: loaded when first used, never by ``import microgradlike``.
COMPILER = ("compile", "program", "tape", "codegen", "fusion", "merging")


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PACKAGE).with_suffix("").parts): p for p in PACKAGE.rglob("*.py")
            if p.name != "__init__.py"}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> dict[str, bool]:
    """The package modules ``name`` imports, each mapped to True when it is imported at the top."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
               and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    inside = {id(n) for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
              for n in ast.walk(node)}
    package = name.split(".")[:-1]
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or id(node) in skipped or not node.level:
            continue
        base = ".".join([*package[:len(package) - node.level + 1], *([node.module] if node.module else [])])
        for alias in node.names:
            target = f"{base}.{alias.name}".lstrip(".")
            target = target if target in modules else base
            if target in modules and target != name:
                found[target] = found.get(target, False) or id(node) not in inside
    return found


def _graph() -> dict[str, dict[str, bool]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph ``edges``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in edges:
        if start in state:
            continue
        path, stack = [start], [iter(sorted(edges.get(start, ())))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(edges.get(nxt, ()))))
    return None


def test_the_imports_at_the_top_of_the_modules_form_no_circle():
    edges = {name: {t for t, top in imports.items() if top} for name, imports in _graph().items()}
    assert _cycle(edges) is None, f"modules import each other in a circle: {' -> '.join(_cycle(edges))}"


def test_a_module_imports_lazily_only_where_it_says_why():
    lazy = {(name, t) for name, imports in _graph().items() for t, top in imports.items() if not top}
    assert lazy == set(LAZY), f"lazy imports not listed in LAZY (or listed and gone): {lazy ^ set(LAZY)}"


def test_without_the_engines_convenience_methods_even_lazy_imports_form_no_circle():
    """Counting every import, the only circles go through the engine's convenience methods, which
    reach up to the stepper and the higher-order code: without those two, nothing imports back."""
    convenience = {("engine", "stepper"), ("engine", "derivatives")}
    edges = {name: {t for t in imports if (name, t) not in convenience} for name, imports in _graph().items()}
    assert _cycle(edges) is None, f"a circle of imports: {' -> '.join(_cycle(edges))}"


def _loaded_after(code: str, bare: bool) -> set[str]:
    """The microgradlike modules (and graphviz) loaded after running ``code`` in a fresh Python.
    ``bare``: the package's __init__ is skipped, so only what the imported modules import loads."""
    setup = ""
    if bare:
        setup = ("import sys, types; package = types.ModuleType('microgradlike'); "
                 f"package.__path__ = [{str(PACKAGE)!r}]; sys.modules['microgradlike'] = package\n")
    report = ("\nimport sys; print(' '.join(m.split('.', 1)[-1] for m in sys.modules "
              "if m.startswith('microgradlike.') or m == 'graphviz'))")
    run = subprocess.run([sys.executable, "-c", setup + code + report], capture_output=True, text=True,
                         timeout=120, cwd=PACKAGE.parent)
    assert run.returncode == 0, run.stderr[-3000:]
    return set(run.stdout.split())


def test_the_step_through_and_gradients_of_gradients_load_neither_pictures_nor_models():
    code = """
from microgradlike.engine import Value
x, w = Value(2.0, label="x"), Value(-3.0, label="w")
out = (x * w + 1).tanh()
for step in out.backward_steps():
    step.explain(); step.grad_text(x)
out.backward(create_graph=True)
x.grad.backward()
from microgradlike import explain, forward, functional
for step in forward.forward_steps(out):
    step.explain()
"""
    loaded = _loaded_after(code, bare=True)
    assert not loaded & {"viz", "graphviz", "nn", "persistence", "losses"}, sorted(loaded)
    assert {"stepper", "derivatives", "forward"} <= loaded  # the code above did run them


def test_a_steps_picture_is_drawn_by_the_pictures():
    code = ("from microgradlike.engine import Value\n"
            "step = next((Value(2.0) * 3).backward_steps()); step.graph()")
    assert {"viz", "graphviz"} <= _loaded_after(code, bare=True)


def test_importing_the_package_loads_no_compiler():
    loaded = _loaded_after("import microgradlike", bare=False)
    assert not loaded & set(COMPILER), sorted(loaded & set(COMPILER))
    assert {"engine", "nn", "train"} <= loaded


def test_the_compiler_loads_when_fit_runs_a_compiled_engine():
    fit = ("import microgradlike\nfrom microgradlike.nn import MLP\nfrom microgradlike.train import fit\n"
           "fit(MLP(2, [3, 1], seed=0), [[0.0, 1.0], [1.0, 0.0]], [0.0, 1.0], max_epochs=1, engine=")
    assert not _loaded_after(fit + "'eager')", bare=False) & set(COMPILER)
    assert set(COMPILER) <= _loaded_after(fit + "'batched')", bare=False)
