"""Layers of the package import only downwards, no daseg import hides inside a function, and no module imports
itself back through a cycle. Read from the sources with ast, so the test fails as soon as a file breaks the rule."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'daseg'
# Checkpoint and key handling at the bottom, models above, merging and evaluation beside them, engine above,
# multi-stage pipelines (which run trainings, evaluations and inference) on top.
RANK = {'errors': 0, 'classes': 0, 'atomic': 1, 'locks': 1, 'progress': 1, 'label_maps': 1, 'weights': 2,
        'datasets': 3, 'demo': 3, 'models': 4, 'merging': 4, 'evaluation': 4, 'engine': 5, 'config_check': 6, 'cli': 7,
        'apis': 8, 'pipelines': 9, '__init__': 10}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imported(path, node):
    """The absolute daseg module an import statement names, or None for other packages."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
        return next((n for n in names if n == 'daseg' or n.startswith('daseg.')), None)
    if node.level == 0:
        return node.module if node.module and node.module.split('.')[0] == 'daseg' else None
    base = module_name(path).split('.')
    if path.name != '__init__.py':
        base = base[:-1]
    base = base[:len(base) - node.level + 1]
    return '.'.join(base + ([node.module] if node.module else []))


def imports_of(path):
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            target = imported(path, node)
            if target:
                found.append((target, id(node) in top, node.lineno))
    return found


def layer(module):
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else '__init__'


def test_layers_import_only_downwards_and_not_inside_functions():
    problems = []
    unranked = {p.stem if p.suffix else p.name for p in PACKAGE.iterdir() if p.name != '__pycache__'} - set(RANK)
    assert not unranked, f'give these parts of the package a layer in RANK: {sorted(unranked)}'
    for path in sorted(PACKAGE.rglob('*.py')):
        own = layer(module_name(path)) if path.name != '__init__.py' or path.parent != PACKAGE else '__init__'
        for target, at_top, line in imports_of(path):
            where = f'{path.relative_to(PACKAGE.parent)}:{line}'
            if not at_top:
                problems.append(f'{where} imports {target} inside a function')
            other = layer(target)
            if other != own and RANK[other] >= RANK[own]:
                problems.append(f'{where}: {own} imports {target} (not a lower layer)')
    assert not problems, '\n'.join(problems)


def test_no_import_cycle():
    graph = {}
    for path in PACKAGE.rglob('*.py'):
        graph[module_name(path)] = {target for target, _, _ in imports_of(path)}

    def resolve(name):
        # 'from .x import y' may name a module x.y or a name y in x.
        return name if name in graph else name.rsplit('.', 1)[0]

    state = {}

    def visit(node, trail):
        state[node] = 'open'
        for target in sorted(resolve(t) for t in graph.get(node, ())):
            # A package's own __init__ importing its submodules is the package, not a cycle through it.
            if target == node or node.startswith(target + '.'):
                continue
            if state.get(target) == 'open':
                raise AssertionError('import cycle: ' + ' -> '.join(trail + [target]))
            if target not in state:
                visit(target, trail + [target])
        state[node] = 'done'

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_no_module_is_over_300_lines():
    long = [f'{p.relative_to(PACKAGE.parent)}: {n}' for p in PACKAGE.rglob('*.py')
            if (n := len(p.read_text().splitlines())) > 300]
    assert not long, long
