"""No two modules of the library import each other (at module level or inside a function)."""
import ast
from pathlib import Path

from testing_utils import ROOT


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _imports(path: Path, root: Path, modules: set) -> set:
    """The library modules ``path`` imports: ``from a.b import c`` counts ``a.b.c`` when that is a module, else
    ``a.b``; relative imports are resolved against the module's package."""
    name = _module_name(path, root)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                anchor = package.split('.')[:len(package.split('.')) - node.level + 1]
                base = '.'.join(anchor + ([base] if base else []))
            targets = [f'{base}.{alias.name}' if f'{base}.{alias.name}' in modules else base for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t in modules and t != name}
    return found


def import_graph(package: Path) -> dict:
    """``{module: {library modules it imports}}`` for every module under the folder ``package``."""
    root = package.parent
    paths = sorted(package.rglob('*.py'))
    modules = {_module_name(p, root) for p in paths}
    return {_module_name(p, root): _imports(p, root, modules) for p in paths}


def test_no_two_library_modules_import_each_other():
    graph = import_graph(ROOT / 'zeetad')
    assert 'zeetad.engine.config_keys' in graph['zeetad.engine.config_check']  # the walker sees imports
    mutual = sorted({tuple(sorted((a, b))) for a, targets in graph.items() for b in targets if a in graph.get(b, ())})
    assert mutual == []


def test_the_walker_finds_a_cycle(tmp_path):
    pkg = tmp_path / 'zeetad' / 'sub'
    pkg.mkdir(parents=True)
    (tmp_path / 'zeetad' / '__init__.py').write_text('')
    (pkg / '__init__.py').write_text('')
    (pkg / 'a.py').write_text('from .b import x\n')
    (pkg / 'b.py').write_text('def f():\n    from zeetad.sub import a\n')
    graph = import_graph(tmp_path / 'zeetad')
    assert graph['zeetad.sub.a'] == {'zeetad.sub.b'} and graph['zeetad.sub.b'] == {'zeetad.sub.a'}
