"""Class filtering, actionness and the ZEAL model (predict in seconds, missing inputs, config build)."""
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zeal_test_utils import write_tiny_dataset
from zeetad.zeal.clip_scores import class_similarity, clip_actionness, key_frame_indices, select_classes
from zeetad.zeal.confidence_store import ConfidenceStore
from zeetad.zeal.queries import save_queries, template_queries

DIM = 16


class HashTextEncoder(nn.Module):
    """Deterministic stand-in for the CLIP text tower: one fixed random unit vector per prompt."""

    def __init__(self, dim: int = DIM):
        super().__init__()
        self.dim = dim
        self.scale = nn.Parameter(torch.ones(()))

    def encode_prompts(self, prompts):
        rows = [torch.randn(self.dim, generator=torch.Generator().manual_seed(zlib.crc32(p.encode())))
                for p in prompts]
        return F.normalize(torch.stack(rows), dim=-1)


def test_key_frames_similarity_and_selection():
    np.testing.assert_array_equal(key_frame_indices(100, 8), [0, 14, 28, 42, 57, 71, 85, 99])
    np.testing.assert_array_equal(key_frame_indices(3, 8), [0, 1, 2])
    text = torch.eye(4)[:3] * 2.0  # three classes along axes 0, 1, 2 (unnormalised on purpose)
    feats = torch.zeros(20, 4)
    feats[:, 3] = 1.0
    feats[::3, 1] = 3.0  # frames 0, 3, ... lean to class 1; frame 19 is the only key frame leaning to class 2
    feats[19, 2] = 5.0
    sim = class_similarity(feats, text, num_key_frames=8)
    assert sim.shape == (3,) and sim[1] > sim[2] > sim[0] == 0
    assert select_classes(sim, 2) == [1, 2]
    assert select_classes(torch.tensor([0.5, 0.5, 0.1]), 1) == [0]  # ties: lower index
    assert select_classes(sim, 2, labels=[2, 0, 2]) == [0, 2]
    act = clip_actionness(feats, text)
    assert act.shape == (3, 20)
    np.testing.assert_allclose(act[1, 0].item(), 3 / np.sqrt(10), atol=1e-6)
    with pytest.raises(ValueError, match='same CLIP model'):
        clip_actionness(feats, torch.eye(5))


@pytest.fixture
def zeal_setup(tmp_path):
    """A toy dataset whose only scored class is Throw (test video vid_d, 30 s, Throw at [1, 4] s)."""
    import h5py
    paths = write_tiny_dataset(tmp_path, clip_dim=DIM, clip_fps=1.0)
    queries = str(tmp_path / 'queries.json')
    save_queries(template_queries(['Jump', 'Run', 'Swim', 'Throw']), queries)
    # Every frame of vid_d looks exactly like Throw's description: actionness 1 throughout.
    throw = HashTextEncoder().encode_prompts([template_queries(['Throw'])['Throw'].description])
    with h5py.File(paths['clip_features']['path'], 'a') as h5:
        h5['vid_d'][...] = throw.numpy().repeat(len(h5['vid_d']), axis=0)
    conf_path = str(tmp_path / 'conf.h5')
    num = 60  # 30 s at 2 fps
    curves = np.full((num, 2, 2), 0.2, np.float32)
    curves[2, 0, 0], curves[8, 0, 1] = 0.9, 0.9  # Throw starts at frame 2 (1 s) and ends at frame 8 (4 s)
    curves[30, 0, 0], curves[50, 0, 1] = 0.8, 0.8
    curves[:, 1] = 0.5  # a second cached column (Jump) that the filter does not keep
    with ConfidenceStore(conf_path, mode='a') as store:
        store.write('vid_d', curves, ['Throw', 'Jump'], sample_fps=2.0, offset_s=0.0)
    dataset = dict(type='TADDataset', ann_file=paths['ann_file'], subset='Test', role='test', split=paths['split'],
                   loc_features=dict(paths['clip_features']), window_size=100000, window_overlap=0.0,
                   test_mode=True, verbose=False)
    model = dict(type='ZEAL', queries_file=queries, confidences_file=conf_path,
                 text_encoder=dict(type=HashTextEncoder), class_filter=dict(mode='top_k', top_k=3),
                 intervals=dict(top_p=0.04, min_class_mean=None))  # floor(0.04 * 60) = 2
    return dataset, model


def run_predict(dataset_cfg, model_cfg):
    import zeetad.datasets  # noqa: F401
    import zeetad.zeal  # noqa: F401
    from zeetad.datasets.collate import tad_collate
    from zeetad.registry import DATASETS, MODELS
    dataset = DATASETS.build(dataset_cfg)
    model = MODELS.build(model_cfg).eval()
    batch = model.data_preprocessor(tad_collate([dataset[i] for i in range(len(dataset))]), False)
    with torch.no_grad():
        return model, dataset, model(**batch, mode='predict')


def test_predict_returns_seconds(zeal_setup):
    model, dataset, out = run_predict(*zeal_setup)
    assert dataset.metainfo['classes'] == ('Throw',) and len(out) == 1
    det = out[0]
    assert det['video_id'] == 'vid_d' and (det['labels'] == 0).all()
    # Candidates: starts {2, 30}, ends {8, 50} frames at 2 fps -> [1, 4], [1, 25], [15, 25] seconds.
    assert sorted(map(tuple, det['segments'].tolist())) == [(1.0, 4.0), (1.0, 25.0), (15.0, 25.0)]
    assert (np.diff(det['scores']) <= 0).all()
    np.testing.assert_allclose(det['scores'][0], 0.1 * (0.95 + 0.95) + 0.9, atol=1e-6)  # [1, 4]: both peaks


def test_oracle_labels_and_missing_inputs(zeal_setup, tmp_path):
    dataset, model = zeal_setup
    _, _, out = run_predict(dataset, dict(model, class_filter=dict(mode='labels')))
    assert len(out[0]['segments']) == 3
    with ConfidenceStore(model['confidences_file'], mode='a') as store:
        store.write('vid_d', np.full((60, 1, 2), 0.5, np.float32), ['Jump'], sample_fps=2.0)
    with pytest.raises(KeyError, match=r"\['Throw'\] have no LVLM confidences"):
        run_predict(dataset, model)
    empty = str(tmp_path / 'empty.h5')
    with ConfidenceStore(empty, mode='a') as store:
        store.set_attrs({'note': 'nothing'})
    with pytest.raises(KeyError, match='no LVLM confidences'):
        run_predict(dataset, dict(model, confidences_file=empty))
    zeal, _, out = run_predict(dataset, dict(model, confidences_file=empty, on_missing='skip'))
    assert len(out[0]['segments']) == 0 and len(zeal.missing) == 1
    with pytest.raises(NotImplementedError, match='training-free'):
        zeal(None, None, mode='loss')
    with pytest.raises(ValueError, match='class_filter.mode'):
        run_predict(dataset, dict(model, class_filter=dict(mode='oracle')))


def test_windowed_items_are_refused(zeal_setup):
    dataset, model = zeal_setup
    with pytest.raises(ValueError, match='one item per whole video'):
        run_predict(dict(dataset, window_size=10), model)
