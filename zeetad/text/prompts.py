"""Prompt templates and class-name normalisation for the CLIP text path.

THUMOS14 labels are CamelCase identifiers ("CleanAndJerk") while ActivityNet
labels are already phrases ("Applying sunscreen"); CLIP was trained on natural
captions, so both are turned into lower-case phrases before templating.
"""
import re
from typing import Dict, List, Mapping, Optional, Sequence, Union

DEFAULT_TEMPLATE = 'a video of a person doing {}.'

# A small ensemble: varied wording so that the mean embedding is less tied to
# one phrasing; every entry keeps the action as the object of the sentence.
ENSEMBLE_TEMPLATES = (
    'a video of a person doing {}.',
    'a photo of a person doing {}.',
    'a video of {}.',
    'a person is doing {}.',
    'a clip of someone doing {}.',
    'an example of {}.',
    'a demonstration of {}.',
)

TEMPLATE_PRESETS: Dict[str, Sequence[str]] = {
    'default': (DEFAULT_TEMPLATE, ),
    'single': (DEFAULT_TEMPLATE, ),
    'ensemble': ENSEMBLE_TEMPLATES,
}

NAME_STYLES = ('auto', 'camel', 'lower', 'none')

# Split "aB" / "3B" (word boundary) and "ABc" (acronym followed by a word),
# so "BMX" stays whole and "BMXRace" becomes "BMX Race".
_CAMEL_BOUNDARY = re.compile(r'(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])')

TemplateSpec = Union[str, Sequence[str]]


def split_camel_case(name: str) -> str:
    """Insert spaces at CamelCase boundaries: ``"CleanAndJerk"`` -> ``"Clean And Jerk"``."""
    return _CAMEL_BOUNDARY.sub(' ', name)


def normalize_class_name(name: str, style: str = 'auto') -> str:
    """Turn a dataset label into the phrase put into a prompt.

    Args:
        name: dataset class label.
        style: ``'camel'`` splits CamelCase and underscores, then lower-cases;
            ``'lower'`` only replaces underscores and lower-cases; ``'none'``
            returns the name unchanged; ``'auto'`` uses ``'lower'`` for names
            that already contain spaces (ActivityNet) and ``'camel'`` otherwise
            (THUMOS14, UCF101).
    """
    if style not in NAME_STYLES:
        raise ValueError(f'unknown name style {style!r}; expected one of {NAME_STYLES}')
    if style == 'none':
        return name
    if style == 'auto':
        style = 'lower' if re.search(r'\s', name.strip()) else 'camel'
    text = name.replace('_', ' ')
    if style == 'camel':
        text = split_camel_case(text)
    return ' '.join(text.split()).lower()


def resolve_templates(templates: TemplateSpec = 'default') -> List[str]:
    """Return the template list named by a preset, one template, or a list.

    A string is a preset name (``'default'``, ``'single'``, ``'ensemble'``) or
    a single template containing exactly one ``{}`` placeholder.
    """
    if isinstance(templates, str):
        if templates in TEMPLATE_PRESETS:
            out = list(TEMPLATE_PRESETS[templates])
        elif '{}' in templates:
            out = [templates]
        else:
            raise ValueError(f'{templates!r} is neither a template preset '
                             f'{sorted(TEMPLATE_PRESETS)} nor a template with a "{{}}" placeholder')
    else:
        out = [str(t) for t in templates]
    if not out:
        raise ValueError('at least one prompt template is required')
    for t in out:
        if t.count('{}') != 1:
            raise ValueError(f'template {t!r} must contain exactly one "{{}}" placeholder')
    return out


def build_prompts(class_names: Sequence[str],
                  templates: TemplateSpec = 'default',
                  name_style: str = 'auto',
                  name_map: Optional[Mapping[str, str]] = None) -> List[List[str]]:
    """Fill every template with every class phrase.

    Args:
        class_names: K dataset labels.
        templates: see :func:`resolve_templates`.
        name_style: see :func:`normalize_class_name`.
        name_map: optional label -> phrase overrides, used verbatim (e.g. a
            short description instead of the bare label).

    Returns:
        T lists of K prompts (template-major), T = number of templates.
    """
    if isinstance(class_names, str):
        raise TypeError('class_names must be a sequence of names, not a single string')
    name_map = dict(name_map or {})
    phrases = [name_map[n] if n in name_map else normalize_class_name(n, name_style) for n in class_names]
    # str.replace rather than str.format: names may contain braces.
    return [[t.replace('{}', p) for p in phrases] for t in resolve_templates(templates)]
