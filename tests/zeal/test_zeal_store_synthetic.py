"""The LVLM-confidence HDF5 cache and the ground-truth-shaped synthetic curves."""
import h5py
import numpy as np
import pytest

from zeetad.testing.synthetic_curves import CurveModel, synthetic_dataset_curves, synthetic_video_curves, video_rng
from zeetad.video.decode import sample_count
from zeetad.zeal.confidence_store import ConfidenceStore


def test_store_roundtrip_and_incomplete_entries(tmp_path):
    path = str(tmp_path / 'c.h5')
    scores = np.random.default_rng(0).random((7, 2, 2)).astype(np.float32)
    with ConfidenceStore(path, mode='a') as store:
        store.set_attrs({'lvlm': 'x', 'ids': [1, 2]})
        store.write('v1', scores, ['A', 'B'], sample_fps=0.5, offset_s=1.0)
        with pytest.raises(ValueError, match=r'\(T, 3, 2\)'):
            store.write('v2', scores, ['A', 'B', 'C'], sample_fps=1.0)
        with pytest.raises(ValueError, match='NaN'):
            store.write('v2', np.full((3, 1, 2), np.nan), ['A'], sample_fps=1.0)
    with h5py.File(path, 'a') as h5:  # a write that was killed before it was marked complete
        h5.create_dataset('v3', data=np.zeros((4, 1, 2), np.float32))
    with ConfidenceStore(path) as store:
        assert store.videos() == ['v1'] and not store.has('v3') and store.attrs()['ids'] == '[1, 2]'
        conf = store.load('v1')
        np.testing.assert_array_equal(conf.scores, scores)
        assert conf.classes == ('A', 'B') and conf.sample_fps == 0.5
        np.testing.assert_allclose(conf.frame_times(), 1.0 + 2.0 * np.arange(7))
        with pytest.raises(KeyError, match='v3'):
            store.load('v3')
        with pytest.raises(PermissionError):
            store.write('v4', scores, ['A', 'B'], sample_fps=1.0)
    with ConfidenceStore(path, mode='a') as store:  # the incomplete entry is replaced
        store.write('v3', scores[:, :1], ['A'], sample_fps=1.0)
        assert store.videos() == ['v1', 'v3']
    with pytest.raises(FileNotFoundError, match='zeal_lvlm'):
        ConfidenceStore(str(tmp_path / 'none.h5'))


def test_synthetic_curves_shapes_peaks_and_noise():
    assert sample_count(10.0, 1.0) == 10 and sample_count(10.2, 1.0) == 11 and sample_count(0.1, 1.0) == 1
    conf, act = synthetic_video_curves(40.0, [(5.0, 12.0, 1)], 3, fps=1.0, noise=0.0, rng=video_rng(0, 'v'))
    assert conf.shape == (40, 3, 2) and act.shape == (3, 40)
    assert conf[:, 1, 0].argmax() == 5 and conf[:, 1, 1].argmax() == 12
    np.testing.assert_allclose(conf[5, 1, 0], 0.9, atol=1e-6)
    np.testing.assert_allclose(conf[:, 0], 0.05, atol=1e-6)  # a class without instances: baseline only
    m = CurveModel()
    np.testing.assert_allclose(act[1, 5:13], m.act_inside, atol=1e-6)
    np.testing.assert_allclose(np.delete(act[1], range(5, 13)), m.act_outside, atol=1e-6)
    noisy, _ = synthetic_video_curves(400.0, [], 1, fps=1.0, noise=0.2, rng=video_rng(0, 'v'))
    assert 0.0 <= noisy.min() and noisy.max() <= 1.0
    mid = CurveModel(base=0.5, peak=0.9)  # far from the clipping bounds
    noisy, _ = synthetic_video_curves(400.0, [], 1, fps=1.0, noise=0.2, rng=video_rng(0, 'v'), model=mid)
    assert abs(noisy.std() - 0.2 * 0.4) < 0.006  # noise is relative to the bump amplitude 0.4


def test_synthetic_dataset_curves_do_not_depend_on_video_order():
    gt = {'b': [{'label': 'X', 'segment': [1.0, 3.0]}, {'label': 'Other', 'segment': [0.0, 2.0]}],
          'a': [{'label': 'Y', 'segment': [2.0, 4.0]}]}
    dur = {'a': 10.0, 'b': 8.0}
    one = synthetic_dataset_curves(gt, ['X', 'Y'], dur, noise=0.3, seed=1)
    two = synthetic_dataset_curves({'a': gt['a']}, ['X', 'Y'], dur, noise=0.3, seed=1)
    np.testing.assert_array_equal(one['a'][0], two['a'][0])
    assert one['b'][0].shape == (8, 2, 2)
    clean = synthetic_dataset_curves(gt, ['X', 'Y'], dur, noise=0.0)
    assert clean['b'][0][:, 1].max() == pytest.approx(0.05)  # 'Other' is not a column, 'Y' is absent in b
