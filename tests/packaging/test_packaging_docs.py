"""The README stays a front door, every link in the docs resolves, and each measured figure has one home."""
import collections
import re
from pathlib import Path

from testing_utils import ROOT

PAGES = sorted([ROOT / 'README.md', ROOT / 'CHANGELOG.md', *(ROOT / 'docs').glob('*.md'),
                *(ROOT / 'configs').rglob('README.md')])
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
FIGURE = re.compile(r'\d+\.\d+ ± \d+\.\d+')  # a mean ± std, the form every published figure takes


def _slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r'[`*_]', '', heading.strip().lower())
    return re.sub(r'\s', '-', re.sub(r'[^\w\s-]', '', text))


def _anchors(page: Path) -> set:
    text = re.sub(r'```.*?```', '', page.read_text(), flags=re.S)
    found = {_slug(m.group(1)) for m in re.finditer(r'^#+\s+(.*)$', text, flags=re.M)}
    return found | set(re.findall(r'<a id="([^"]+)"', text))


def test_readme_is_short_and_keeps_the_two_commands():
    text = (ROOT / 'README.md').read_text()
    assert len(text.splitlines()) <= 250 and len(text) <= 20_000, (len(text.splitlines()), len(text))
    assert 'make demo' in text and 'make test' in text
    assert '](docs/README.md)' in text and '](docs/custom_dataset.md)' in text


def test_every_relative_link_and_anchor_resolves():
    broken = []
    for page in PAGES:
        for target in LINK.findall(re.sub(r'```.*?```', '', page.read_text(), flags=re.S)):
            if re.match(r'[a-z]+:', target):
                continue  # http(s), mailto
            path, _, anchor = target.partition('#')
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f'{page.relative_to(ROOT)}: {target} (no such file)')
            elif anchor and dest.suffix == '.md' and anchor not in _anchors(dest):
                broken.append(f'{page.relative_to(ROOT)}: {target} (no such heading)')
    assert broken == []


def test_each_measured_figure_lives_in_one_page():
    homes = collections.defaultdict(set)
    for page in PAGES:
        for figure in FIGURE.findall(page.read_text()):
            homes[figure].add(page.relative_to(ROOT).as_posix())
    assert {f: sorted(p) for f, p in homes.items() if len(p) > 1} == {}


def test_no_issue_numbers_in_user_facing_text():
    texts = PAGES + sorted((ROOT / 'tools').rglob('*.py')) + sorted((ROOT / 'benchmarks').rglob('*.py'))
    hits = [f'{p.relative_to(ROOT)}:{i}' for p in texts
            for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(r'\bissue #?\d', line, re.I)]
    assert hits == []
