import pytest

from zeetad.text import (DEFAULT_TEMPLATE, ENSEMBLE_TEMPLATES, build_prompts, normalize_class_name,
                         resolve_templates)

THUMOS_EXPECTED = {
    'CleanAndJerk': 'clean and jerk',
    'BasketballDunk': 'basketball dunk',
    'BaseballPitch': 'baseball pitch',
    'VolleyballSpiking': 'volleyball spiking',
    'Billiards': 'billiards',
    'Shotput': 'shotput',
    'ThrowDiscus': 'throw discus',
}


@pytest.mark.parametrize('name,expected', sorted(THUMOS_EXPECTED.items()))
def test_thumos_camel_case(name, expected):
    assert normalize_class_name(name) == expected
    assert normalize_class_name(name, 'camel') == expected


@pytest.mark.parametrize('name,expected', [
    ('Applying sunscreen', 'applying sunscreen'),
    ('Rock-paper-scissors', 'rock-paper-scissors'),
    ('Carving jack-o-lanterns', 'carving jack-o-lanterns'),
    ('BMX', 'bmx'),
    ('Using the pommel horse', 'using the pommel horse'),
    ('Ping-pong', 'ping-pong'),
])
def test_activitynet_names_only_lowercased(name, expected):
    assert normalize_class_name(name) == expected


def test_name_styles():
    assert normalize_class_name('BMXRace') == 'bmx race'
    assert normalize_class_name('clean_and_jerk') == 'clean and jerk'
    assert normalize_class_name('YoYo') == 'yo yo'
    assert normalize_class_name('  Tai   chi ') == 'tai chi'
    assert normalize_class_name('CleanAndJerk', 'lower') == 'cleanandjerk'
    assert normalize_class_name('CleanAndJerk', 'none') == 'CleanAndJerk'
    # 'camel' on a phrase with capitals splits them; 'auto' would not.
    assert normalize_class_name('Doing TaiChi', 'camel') == 'doing tai chi'
    assert normalize_class_name('Doing TaiChi') == 'doing taichi'
    with pytest.raises(ValueError, match='unknown name style'):
        normalize_class_name('x', 'title')


def test_resolve_templates():
    assert resolve_templates() == [DEFAULT_TEMPLATE] == ['a video of a person doing {}.']
    assert resolve_templates('ensemble') == list(ENSEMBLE_TEMPLATES)
    assert len(ENSEMBLE_TEMPLATES) == len(set(ENSEMBLE_TEMPLATES)) >= 5
    assert resolve_templates('{} in a video') == ['{} in a video']
    assert resolve_templates(('a {}.', 'b {}.')) == ['a {}.', 'b {}.']
    for bad in ('no placeholder', ['{} and {}'], []):
        with pytest.raises(ValueError):
            resolve_templates(bad)


def test_build_prompts_template_major():
    prompts = build_prompts(['HighJump', 'Applying sunscreen'], ['a {}.', 'b {}!'])
    assert prompts == [['a high jump.', 'a applying sunscreen.'], ['b high jump!', 'b applying sunscreen!']]


def test_build_prompts_name_map_and_braces():
    prompts = build_prompts(['HighJump', 'Odd{x}'], name_map={'HighJump': 'an athlete clearing a bar'})
    assert prompts == [['a video of a person doing an athlete clearing a bar.', 'a video of a person doing odd{x}.']]


def test_build_prompts_rejects_single_string():
    with pytest.raises(TypeError):
        build_prompts('HighJump')
