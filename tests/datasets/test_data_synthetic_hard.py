"""The small hard benchmark: invented videos and splits, harder CLIP stream, reuse of older datasets."""
import json
import sys

import numpy as np
import pytest

from zeetad.datasets.synthetic import SyntheticConfig, SyntheticWorld
from zeetad.datasets.synthetic_invented import invented_records, write_invented_splits
from zeetad.datasets.synthetic_io import existing_dataset
from testing_utils import ROOT


def test_invented_records_cover_every_class_in_both_subsets_with_short_and_long_instances():
    records = invented_records(num_videos=144, num_classes=24, fps=25.0, seed=0)
    assert len(records) == 144 and {r.fps for r in records} == {25.0}
    for subset in ('train', 'test'):
        assert len({r.instances[0].label for r in records if r.subset == subset}) == 24
    lengths = [i.end - i.start for r in records for i in r.instances]
    assert min(lengths) < 4.0 and max(lengths) > 15.0
    for r in records:
        spans = sorted((i.start, i.end) for i in r.instances)
        assert all(0 <= s < e <= r.duration for s, e in spans)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # never overlapping
    again = invented_records(num_videos=144, num_classes=24, fps=25.0, seed=0)
    assert [(r.video_id, r.duration, r.instances) for r in again] == [(r.video_id, r.duration, r.instances)
                                                                     for r in records]
    with pytest.raises(ValueError, match='--max-videos'):
        invented_records(num_videos=30, num_classes=24)


def test_invented_splits_are_disjoint_75_25_and_differ(tmp_path):
    classes = [f'class {k}' for k in range(24)]
    root = write_invented_splits(str(tmp_path), 'Invented', classes, seed=0, num_splits=3)
    tests = []
    for index in range(3):
        folder = root / 'train_75_test_25' / 'Invented'
        train = (folder / 'train' / f'split_{index}.list').read_text().split('\n')[:-1]
        test = (folder / 'test' / f'split_{index}.list').read_text().split('\n')[:-1]
        assert len(train) == 18 and len(test) == 6 and sorted(train + test) == sorted(classes)
        tests.append(tuple(test))
    assert len(set(tests)) == 3


def _mean_pairwise_cosine(emb):
    sim = emb @ emb.T
    return sim[~np.eye(len(emb), dtype=bool)].mean()


def test_hard_knobs_shrink_class_margins_and_pull_scenes_toward_classes():
    rng = np.random.default_rng(5)
    names, text = [f'c{k}' for k in range(6)], rng.normal(size=(6, 32))
    easy = SyntheticWorld(SyntheticConfig(loc_dim=8), names, text)
    hard = SyntheticWorld(SyntheticConfig(loc_dim=8, clip_class_margin=0.5, clip_scene_class=0.6), names, text)
    assert _mean_pairwise_cosine(hard.visual_class_embeddings) > _mean_pairwise_cosine(easy.visual_class_embeddings) + 0.2
    from zeetad.datasets.annotations import VideoRecord
    video = VideoRecord('v', 'test', 30.0, 25.0, [])  # no instance: every frame is scene + noise

    def best_class_cosine(world):
        frames = world.clip_features(video, world.video_rng('v')).astype(np.float64)
        return float((frames.mean(0) / np.linalg.norm(frames.mean(0)) @ world.visual_class_embeddings.T).max())
    assert best_class_cosine(hard) > best_class_cosine(easy) + 0.2
    # defaults leave the original data model bit for bit
    same = SyntheticWorld(SyntheticConfig(loc_dim=8, clip_class_margin=1.0, clip_scene_class=0.0), names, text)
    assert np.array_equal(same.clip_features(video, same.video_rng('v')), easy.clip_features(video, easy.video_rng('v')))


def test_a_dataset_written_before_the_new_fields_is_still_reused(tmp_path):
    old = SyntheticConfig().to_dict()
    for key in ('clip_class_margin', 'clip_scene_class'):
        old.pop(key)
    text = {'type': 'CLIPTextEncoder'}
    (tmp_path / 'meta.json').write_text(json.dumps({'config': old, 'text_encoder': text, 'num_videos': 3}))
    assert existing_dataset(str(tmp_path), SyntheticConfig(), text, 3) is not None
    assert existing_dataset(str(tmp_path), SyntheticConfig(clip_class_margin=0.6), text, 3) is None


def test_make_synthetic_data_invented_hard_writes_data_splits_and_loads(tmp_path, tiny_clip_ckpt):
    sys.path.insert(0, str(ROOT / 'tools' / 'data'))
    import make_synthetic_data
    out = tmp_path / 'hard'
    meta = make_synthetic_data.main(['--shape', 'invented', '--preset', 'hard', '--max-videos', '48',
                                     '--loc-dim', '16', '--out', str(out), '--clip-pretrained', tiny_clip_ckpt])
    assert meta['num_videos'] == 48 and len(meta['classes']) == 24
    assert meta['config']['clip_class_margin'] == make_synthetic_data.HARD_PRESET['clip_class_margin']
    assert (meta['config']['loc_stride'], meta['config']['clip_fps']) == (8, 2.0)
    from zeetad.datasets.tad_dataset import TADDataset
    split = dict(mode='zero_shot', root=str(out / 'splits'), dataset='Invented', ratio=75, index=0)
    common = dict(ann_file=str(out / 'annotations.json'), split=split, window_size=64, window_overlap=0.5,
                  loc_features=dict(format='npy', root=str(out / 'features' / 'loc'), dim=16,
                                    timebase=dict(stride=8, window=16, fps=None)),
                  clip_features=dict(format='hdf5', path=str(out / 'features' / 'clip.h5'), dim=256,
                                     timebase=dict(sample_fps=2.0)))
    train = TADDataset(subset='train', role='train', **common)
    test = TADDataset(subset='test', role='test', **common)
    assert len(train) > 0 and len(test) > 0
