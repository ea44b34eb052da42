"""Helpers shared by tests in several folders (a module name no other folder uses, unlike ``conftest``)."""
from pathlib import Path
from typing import Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_tiny_dataset(root: Path, *, loc_dim: int = 8, clip_dim: int = 6, fps: float = 10.0, stride: int = 2,
                       window: int = 4, clip_fps: float = 1.0, videos=None, seed: int = 0) -> dict:
    """A 4-class toy dataset: annotation JSON, per-video .npy localisation features, one HDF5 CLIP file."""
    from zeetad.datasets.annotations import Instance, VideoRecord
    from zeetad.datasets.dataset_writer import open_hdf5_writer, save_npy, write_annotation_file
    from zeetad.datasets.splits import write_split_files
    rng = np.random.default_rng(seed)
    videos = videos or {
        'vid_a': ('Validation', 30.0, [('Jump', 2.0, 6.0), ('Run', 10.0, 14.0)]),
        'vid_b': ('Validation', 20.0, [('Swim', 3.0, 9.0)]),
        'vid_c': ('Validation', 25.0, [('Throw', 5.0, 8.0)]),
        'vid_d': ('Test', 30.0, [('Throw', 1.0, 4.0), ('Jump', 12.0, 20.0)]),
        'vid_e': ('Test', 15.0, [('Run', 2.0, 5.0)]),
    }
    records = []
    with open_hdf5_writer(str(root / 'clip.h5')) as h5:
        for vid, (subset, duration, anns) in videos.items():
            records.append(VideoRecord(vid, subset, duration, fps, [Instance(*a) for a in anns]))
            num = int(np.floor((duration - window / (2 * fps)) / (stride / fps))) + 1
            save_npy(str(root / 'loc' / f'{vid}.npy'), rng.normal(size=(num, loc_dim)).astype(np.float32))
            h5.create_dataset(vid, data=rng.normal(size=(int(duration * clip_fps) + 1, clip_dim)).astype(np.float32))
    write_annotation_file(str(root / 'ann.json'), records, 'toy')
    write_split_files(str(root / 'splits'), 'Toy', 75, 0, ['Jump', 'Swim', 'Run'], ['Throw'])
    return dict(
        ann_file=str(root / 'ann.json'),
        loc_features=dict(format='npy', root=str(root / 'loc'), dim=loc_dim,
                          timebase=dict(stride=stride, window=window, fps=None)),
        clip_features=dict(format='hdf5', path=str(root / 'clip.h5'), dim=clip_dim,
                           timebase=dict(sample_fps=clip_fps, offset_s=0.0)),
        split=dict(mode='zero_shot', root=str(root / 'splits'), dataset='Toy', ratio=75, index=0))


def tiny_model_cfg(config: str, clip_ckpt: str, **localizer) -> dict:
    """``configs/zeetad/<config>``'s model with tiny widths (layers, heads, points, levels and switches kept) and
    the random tiny CLIP text tower saved at ``clip_ckpt``; ``localizer`` overrides its localiser's fields."""
    import copy

    from mmengine.config import Config

    from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG
    cfg = copy.deepcopy(Config.fromfile(str(ROOT / 'configs' / 'zeetad' / config)).model.to_dict())
    loc = cfg['localizer']
    loc.update(d_model=32, **localizer)
    loc['transformer'].update(dim_ff=64, num_queries=8)
    if loc.get('actionness'):
        loc['actionness'].update(hidden_dim=32)
    text = cfg['classifier']['text_encoder']
    cfg['classifier']['text_encoder'] = dict(
        type='CLIPTextEncoder', model_config_file=TINY_CLIP_CONFIG, pretrained=clip_ckpt,
        num_adapter_blocks=text.get('num_adapter_blocks', 0), adapter_width=text.get('adapter_width', 64))
    # float32 whatever the machine: tests compare numbers across paths ('auto' would pick bf16 on some CPUs)
    cfg['test_cfg'] = dict(cfg.get('test_cfg') or {}, autocast=None)
    return cfg


DEMO_CONFIG = str(ROOT / 'configs/zeetad/zeetad_synthetic_thumos14_demo.py')


def config_errors(options: dict, path: str = DEMO_CONFIG, top_level: Optional[dict] = None, **extra) -> str:
    """The message of the ``ConfigError`` that ``path`` with ``options`` (and ``extra``) raises at the start-up
    check. ``top_level`` keys are merged as if written in the file (``--cfg-options`` refuses unread ones)."""
    import pytest

    from zeetad.engine.config_check import ConfigError, validate_config
    from zeetad.engine.runner_setup import load_config
    cfg = load_config(path, {**options, **extra})
    cfg.merge_from_dict(top_level or {})
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    return str(info.value)


def tiny_config_options(tiny_dataset: dict, tmp_path: Path) -> dict:
    """``--cfg-options`` that point the synthetic demo config at :func:`write_tiny_dataset`'s files."""
    clip = tmp_path / 'tiny_clip.pt'
    clip.write_bytes(b'')  # only its existence is checked by the config check
    opts = {'model.localizer.loc_dim': 8, 'model.localizer.clip_dim': 6,
            'model.classifier.text_encoder.pretrained': str(clip),
            'model.classifier.text_encoder.model_config_file': str(ROOT / 'configs/_base_/clip/zeetad-tiny-clip.json'),
            'model.test_cfg.autocast': None}  # float32 on every machine (see tiny_model_cfg)
    for loader in ('train_dataloader', 'test_dataloader', 'val_dataloader'):
        for key, value in tiny_dataset.items():
            opts[f'{loader}.dataset.{key}'] = value
    return opts

TINY_TRAINING_CONFIG = """
_base_ = [{demo!r}]
D = {data!r}
loc_features = dict(format='npy', root=D + '/features/loc', suffix='.npy', dim=128,
                    timebase=dict(stride=4, window=16, fps=None))
clip_features = dict(format='hdf5', path=D + '/features/clip.h5', dim=256, timebase=dict(sample_fps=2.0, offset_s=0.0))
train_dataloader = dict(batch_size=2, num_workers={train_workers}, persistent_workers={train_workers} > 0,
                        dataset=dict(ann_file=D + '/annotations.json', loc_features=loc_features,
                                     clip_features=clip_features, max_videos=3, verbose=False))
test_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                       dataset=dict(ann_file=D + '/annotations.json', loc_features=loc_features,
                                    clip_features=clip_features, max_videos={test_videos}, verbose=False))
val_dataloader = test_dataloader
model = dict(
    localizer=dict(d_model=32, transformer=dict(nhead=2, enc_layers=1, dec_layers=1, dim_ff=64, num_queries=8),
                   actionness=dict(hidden_dim=32)),
    classifier=dict(text_encoder=dict(pretrained=D + '/clip/tiny_clip.pt', model_config_file={clip_cfg!r})),
    test_cfg=dict(autocast=None))  # float32 on every machine: tests compare detections across runs
"""


def write_tiny_training_config(root: Path, extra: str, *, max_videos: int = 10, train_workers: int = 0,
                               test_videos=None) -> Path:
    """Synthetic data (``tools/data/make_synthetic_data.py``) and a config of the demo model shrunk to seconds per
    epoch, plus ``extra`` config lines; returns the config path."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('zeetad_make_synthetic', ROOT / 'tools/data/make_synthetic_data.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tool.main(['--max-videos', str(max_videos), '--out', str(root / 'data')])
    path = root / 'tiny_training.py'
    path.write_text(TINY_TRAINING_CONFIG.format(
        demo=str(ROOT / 'configs/zeetad/zeetad_synthetic_thumos14_demo.py'), data=str(root / 'data'),
        clip_cfg=str(ROOT / 'configs/_base_/clip/zeetad-tiny-clip.json'), train_workers=train_workers,
        test_videos=test_videos) + extra)
    return path
