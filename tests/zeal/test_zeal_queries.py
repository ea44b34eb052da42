"""Queries files: validation, hand-edited files, JSON extraction, and the cached per-class generation."""
import json

import pytest

from zeetad.zeal.queries import (ActionQueries, QueryValidationError, extract_json, load_queries, parse_queries,
                                 save_queries, template_queries, validate_entry)
from zeetad.zeal.query_generation import errors_path, generate_queries

GOOD = {'start': 'Is the athlete starting to spin?', 'end': 'Has the hammer just left the hand?',
        'description': 'An athlete spins and throws a heavy ball on a wire.'}


def test_validate_entry_reports_each_problem():
    assert validate_entry(GOOD) == (ActionQueries(**GOOD), None)
    for question in ('Does the bar fall?', 'CAN the ball be seen ?', 'are  both feet off the ground?'):
        assert validate_entry(dict(GOOD, start=question))[1] is None
    cases = {
        'missing key': {k: v for k, v in GOOD.items() if k != 'end'},
        'unexpected key': dict(GOOD, extra='x'),
        'must be a string': dict(GOOD, start=3),
        'is empty': dict(GOOD, description='  '),
        'identical': dict(GOOD, end=GOOD['start']),
        'several lines': dict(GOOD, start='Is it?\nReally?'),
        'expected an object': ['a', 'b'],
        '"start" must be a yes/no question': dict(GOOD, start='jumping'),
        '"end" must be a yes/no question': dict(GOOD, end='x'),
        "yes/no question (a verb such as \"Is\", \"Does\" or \"Has\" first, \"?\" last): the LVLM answers it with "
        "P(yes); got 'What is the athlete doing?'": dict(GOOD, start='What is the athlete doing?'),
        "got 'Is the hammer released'": dict(GOOD, end='Is the hammer released'),
    }
    for fragment, entry in cases.items():
        queries, why = validate_entry(entry)
        assert queries is None and fragment in why, (fragment, why)


def test_parse_queries_missing_and_fuzzy_names():
    valid, errors = parse_queries({'CleanAndJerk': GOOD}, ['CleanAndJerk', 'HighJump'])
    assert list(valid) == ['CleanAndJerk'] and errors == {'HighJump': 'missing'}
    valid, errors = parse_queries({'clean and jerk': GOOD, 'High Jump': dict(GOOD, end='')},
                                  ['CleanAndJerk', 'HighJump'], fuzzy_names=True)
    assert list(valid) == ['CleanAndJerk'] and '"end" is empty' in errors['HighJump']
    _, errors = parse_queries(['not', 'a', 'dict'], ['A'])
    assert 'JSON list' in errors['A']


def test_extract_json_variants():
    assert extract_json('{"a": 1}') == {'a': 1}
    assert extract_json('Sure!\n```json\n{"a": 2}\n```\nDone.') == {'a': 2}
    assert extract_json('Here it is: {"a": 3} hope it helps') == {'a': 3}
    with pytest.raises(ValueError, match='not valid JSON'):
        extract_json('I cannot help with that.')


def test_hand_edited_file_roundtrip_and_errors(tmp_path):
    path = str(tmp_path / 'q.json')
    save_queries({'B': ActionQueries(**GOOD), 'A': ActionQueries(**GOOD)}, path)
    text = open(path).read()
    assert text.index('"A"') < text.index('"B"') and '\n  "A": {' in text  # sorted, indented
    assert load_queries(path, ['A']) == {'A': ActionQueries(**GOOD)}
    data = json.loads(text)
    data['A']['start'] = ''
    (tmp_path / 'q.json').write_text(json.dumps(data))
    with pytest.raises(QueryValidationError) as info:
        load_queries(path, ['A', 'B', 'C'])
    assert set(info.value.errors) == {'A', 'C'} and 'A: "start" is empty' in str(info.value)
    (tmp_path / 'q.json').write_text('{"A": ')
    with pytest.raises(ValueError, match='not valid JSON'):
        load_queries(path)
    with pytest.raises(FileNotFoundError, match='zeal_queries'):
        load_queries(str(tmp_path / 'none.json'))


def test_template_queries_use_the_clip_prompt():
    q = template_queries(['CleanAndJerk'])['CleanAndJerk']
    assert q.description == 'a video of a person doing clean and jerk.'
    assert q.start.endswith('?') and q.start != q.end


class ScriptedBackend:
    """Returns the scripted answers in turn and records the classes asked for."""

    def __init__(self, answers):
        self.answers, self.asked = list(answers), []

    def complete(self, messages):
        self.asked.append(messages[-1]['content'])
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_generate_queries_reports_per_class_and_resumes(tmp_path):
    out = str(tmp_path / 'queries.json')
    backend = ScriptedBackend([
        json.dumps({'A': GOOD}),                 # A fine
        'no json here', 'still none',            # B malformed twice -> reported
        json.dumps({'C': dict(GOOD, end='')}),   # C invalid, then fixed on the retry
        json.dumps({'C': GOOD}),
        RuntimeError('server down'),             # D: the request fails for good
    ])
    report = generate_queries(['A', 'B', 'C', 'D'], backend, out, progress=False)
    assert sorted(report.queries) == ['A', 'C']
    assert set(report.errors) == {'B', 'D'}
    assert 'not valid JSON' in report.errors['B'] and 'server down' in report.errors['D']
    assert sorted(json.load(open(out))) == ['A', 'C']  # failures are never filled in
    assert set(json.load(open(errors_path(out)))) == {'B', 'D'}
    # A second run asks only for the failed classes, and clears the error file once all succeed.
    backend2 = ScriptedBackend([json.dumps({'B': GOOD}), json.dumps({'D': GOOD})])
    report2 = generate_queries(['A', 'B', 'C', 'D'], backend2, out, progress=False)
    assert report2.ok and sorted(report2.reused) == ['A', 'C'] and len(backend2.asked) == 2
    assert sorted(load_queries(out)) == ['A', 'B', 'C', 'D']
    assert not (tmp_path / 'queries.json.errors.json').exists()


def test_generate_queries_batches_and_template(tmp_path):
    out = str(tmp_path / 'q.json')
    backend = ScriptedBackend([json.dumps({'a b': GOOD, 'C': GOOD})])
    report = generate_queries(['AB', 'C'], backend, out, classes_per_request=2, progress=False)
    assert sorted(report.queries) == ['AB', 'C'] and '- AB\n- C' in backend.asked[0]
    report = generate_queries(['X'], 'template', str(tmp_path / 't.json'), progress=False)
    assert report.ok and report.queries['X'] == template_queries(['X'])['X']


def test_a_query_that_is_not_a_yes_no_question_names_the_class(tmp_path):
    """"jumping" or "x" as a start question used to be accepted: P(yes) of a non-question is noise."""
    path = tmp_path / 'q.json'
    path.write_text(json.dumps({'HighJump': dict(GOOD, start='jumping'), 'PoleVault': GOOD}))
    with pytest.raises(QueryValidationError) as info:
        load_queries(str(path), ['HighJump', 'PoleVault'])
    assert list(info.value.errors) == ['HighJump']
    assert f'{path}: 1 class(es) with invalid or missing queries:\n  HighJump: "start" must be a yes/no question' \
        in str(info.value)
