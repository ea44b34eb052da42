"""The package tree keeps library, testing helpers and tools apart, and configs resolve through the package."""
import ast
import fnmatch
import importlib
import importlib.util
import os
import re
from pathlib import Path

import pytest

from testing_utils import ROOT

WRAPPERS = {'train': 'train', 'test': 'test', 'detect': 'detect', 'data/extract_clip_features': 'extract',
            'eval_detections': 'eval'}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_library_imports_neither_the_testing_helpers_nor_the_tools():
    offenders = []
    for path in sorted((ROOT / 'zeetad').rglob('*.py')):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith('zeetad/testing/'):
            continue
        offenders += [f'{rel}: {m}' for m in _imports(path) if m.split('.')[0] in ('tools', 'benchmarks')
                      or m == 'zeetad.testing' or m.startswith('zeetad.testing.')]
    assert offenders == []


def test_benchmark_code_lives_in_one_folder_with_one_naming_scheme():
    """Benchmark/profiling code is not library code and not a user tool: all of it in benchmarks/, scripts named
    benchmark_*.py, shared code in harness.py and common/; none under zeetad/ or tools/."""
    from setuptools import find_packages
    packages = find_packages(str(ROOT), include=['zeetad', 'zeetad.*'])
    assert 'zeetad.utils' in packages and not [p for p in packages if p.split('.')[0] != 'zeetad']
    top = {p.name for p in (ROOT / 'benchmarks').glob('*.py')} - {'__init__.py', 'harness.py'}
    assert top and all(re.fullmatch(r'benchmark_\w+\.py', name) for name in top), sorted(top)
    common = {p.name for p in (ROOT / 'benchmarks' / 'common').glob('*.py')}
    assert {'model.py', 'model_report.py', 'profile_ranges.py'} <= common
    patterns = ('bench*.py', '*benchmark*.py', 'profile_*.py', '*_report.py', 'harness.py')
    elsewhere = [p.relative_to(ROOT).as_posix() for folder in ('zeetad', 'tools') for p in (ROOT / folder).rglob('*.py')
                 if any(fnmatch.fnmatch(p.name, pat) for pat in patterns)]
    assert elsewhere == []


@pytest.mark.parametrize('tool,module', sorted(WRAPPERS.items()))
def test_tools_are_thin_wrappers_of_the_cli(tool, module):
    spec = importlib.util.spec_from_file_location(f'wrapper_{Path(tool).name}', ROOT / 'tools' / f'{tool}.py')
    wrapper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wrapper)
    cli = importlib.import_module(f'zeetad.cli.{module}')
    assert wrapper.main is cli.main and wrapper.parse_args is cli.parse_args
    assert len((ROOT / 'tools' / f'{tool}.py').read_text().splitlines()) < 20


def test_console_script_dispatches_every_command(capsys):
    from zeetad.cli import COMMANDS, main
    assert "'zeetad = zeetad.cli:main'" in (ROOT / 'setup.py').read_text()
    for name, (module, _) in COMMANDS.items():
        assert callable(importlib.import_module(module).cli), name
    assert main(['--help']) == 0
    usage = capsys.readouterr().out
    assert all(name in usage for name in COMMANDS)
    with pytest.raises(SystemExit) as exc:  # the subcommand's own parser, named after the command
        main(['test', '--help'])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith('usage: zeetad test')


def test_configs_path_resolves_through_the_package(tmp_path, monkeypatch):
    from zeetad.utils.resources import config_root, resolve_config_path, shipped_config
    monkeypatch.chdir(tmp_path)  # no configs/ here
    shipped = resolve_config_path('configs/zeal/zeal_thumos14.py')
    assert os.path.isfile(shipped) and Path(shipped) == config_root() / 'zeal' / 'zeal_thumos14.py'
    assert shipped_config('zeal/zeal_thumos14.py') == shipped
    assert resolve_config_path('configs/zeal/none.py') == 'configs/zeal/none.py'  # the caller names it
    (tmp_path / 'configs' / 'zeal').mkdir(parents=True)
    (tmp_path / 'configs' / 'zeal' / 'zeal_thumos14.py').write_text('x = 1\n')
    assert resolve_config_path('configs/zeal/zeal_thumos14.py') == 'configs/zeal/zeal_thumos14.py'  # yours wins
    with pytest.raises(FileNotFoundError, match='not one of the configs shipped'):
        shipped_config('zeal/none.py')


def _layout_block(title: str) -> str:
    """The first code block of section ``title`` of docs/layout.md."""
    text = (ROOT / 'docs' / 'layout.md').read_text()
    section = text[text.index(f'## {title}\n'):]
    return section[section.index('```\n') + 4:section.index('\n```', section.index('```\n') + 4)]


def _expand(token: str) -> list:
    """``benchmark_{model,data}.py`` -> ``['benchmark_model.py', 'benchmark_data.py']``."""
    import re
    m = re.search(r'\{([^}]*)\}', token)
    if not m:
        return [token]
    return [x for part in m.group(1).split(',') for x in _expand(token[:m.start()] + part + token[m.end():])]


def test_documented_project_layout_matches_the_tree():
    import fnmatch
    import re
    block = _layout_block('Project layout')
    lines = block.splitlines()
    # zeetad's subpackages (two-space indent) and models' (four), each listed once, none missing.
    listed = {m.group(1) for line in lines if (m := re.match(r'^  (\w+)/\s', line))}
    listed_models = {m.group(1) for line in lines if (m := re.match(r'^    (\w+)/\s', line))}
    tools_dirs = {d.name for d in (ROOT / 'tools').iterdir() if d.is_dir() and d.name != '__pycache__'}
    packages = {d.name for d in (ROOT / 'zeetad').iterdir() if (d / '__init__.py').is_file()}
    assert listed == packages | tools_dirs
    assert listed_models == {d.name for d in (ROOT / 'zeetad' / 'models').iterdir() if (d / '__init__.py').is_file()}
    # Every script and helper under tools/ is named (globs and {a,b} allowed), and every name exists.
    tools_text = block[block.index('\ntools/'):block.index('\ntests/')]
    tokens = [x for t in re.findall(r'[\w{},*]+\.(?:py|sh)', tools_text) for x in _expand(t)]
    files = sorted(p.name for p in (ROOT / 'tools').rglob('*')
                   if p.suffix in ('.py', '.sh') and p.name != '__init__.py')
    assert [f for f in files if not any(fnmatch.fnmatch(f, t) for t in tokens)] == []
    assert [t for t in tokens if not any(fnmatch.fnmatch(f, t) for f in files)] == []
    top = {p.name for p in (ROOT / 'tools').glob('*') if p.suffix in ('.py', '.sh') and p.name != '__init__.py'}
    head = tools_text[:tools_text.index('  data/')]
    assert top == {x for t in re.findall(r'[\w{},*]+\.(?:py|sh)', head) for x in _expand(t)}
    # "Tests": the areas are the test folders.
    tests_block = _layout_block('Tests')
    areas = tests_block[tests_block.index('tests/<area>/'):].split('/', 2)[2]
    named = set(re.findall(r'\b([a-z]+)\b(?:,| \(|\n|$)', areas))
    assert named == {d.name for d in (ROOT / 'tests').iterdir() if d.is_dir() and d.name != '__pycache__'}
