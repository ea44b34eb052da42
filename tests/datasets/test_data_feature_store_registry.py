"""Feature readers are looked up in the FEATURE_STORES registry: a new on-disk format is one registered class,
checked, built and dimension-checked like the shipped ones."""
import numpy as np
import pytest

from zeetad.datasets.feature_store import (FeatureStore, HDF5FeatureStore, NpyFeatureStore, build_feature_store,
                                           store_problems)
from zeetad.engine.config_files import _feature_dim_on_disk
from zeetad.registry import FEATURE_STORES


class CsvFeatureStore(FeatureStore):
    """One ``<video>.csv`` per video (a toy format, registered only inside the test)."""
    location, location_kind = 'folder', 'CSV folder'

    def __init__(self, folder: str, delimiter: str = ','):
        self.folder, self.delimiter = folder, delimiter

    def path_of(self, video_id):
        return f'{self.folder}/{video_id}.csv'

    def load(self, video_id, start=None, stop=None):
        return np.loadtxt(self.path_of(video_id), delimiter=self.delimiter, ndmin=2)[start:stop]

    @classmethod
    def stored_dim(cls, spec):
        return 3


@pytest.fixture
def csv_format():
    FEATURE_STORES.register_module(name='csv', module=CsvFeatureStore)
    yield
    FEATURE_STORES.module_dict.pop('csv')


def test_shipped_formats_are_registered():
    assert FEATURE_STORES.get('npy') is NpyFeatureStore
    assert FEATURE_STORES.get('hdf5') is HDF5FeatureStore and FEATURE_STORES.get('h5') is HDF5FeatureStore


def test_a_registered_format_is_checked_built_and_read(csv_format, tmp_path):
    np.savetxt(tmp_path / 'v1.csv', np.arange(6.0).reshape(2, 3), delimiter=',')
    spec = dict(format='csv', folder=str(tmp_path), dim=3)
    assert store_problems(spec, 'loc_features') == []
    store = build_feature_store(spec, 'loc_features')
    assert isinstance(store, CsvFeatureStore)
    assert store.load('v1', 1).tolist() == [[3.0, 4.0, 5.0]]
    assert _feature_dim_on_disk(spec) == 3
    # its own keys, and the location it declares, are what the check expects
    assert store_problems(dict(spec, root='x'), 'loc_features') == [
        "loc_features: unknown key 'root'; expected one of ['delimiter', 'dim', 'folder', 'format', 'timebase']"]
    assert store_problems(dict(format='csv'), 'loc_features') == [
        "loc_features.folder: the CSV folder is required for format 'csv', got None"]


def test_unknown_format_names_the_key_and_the_registered_formats():
    problems = store_problems(dict(format='hdf', path='x.h5'), 'clip_features')
    assert problems == ["clip_features.format: must be one of ['h5', 'hdf5', 'npy'], got 'hdf' "
                        "(did you mean 'hdf5'?)"]
    with pytest.raises(ValueError, match='clip_features.format'):
        build_feature_store(dict(format='hdf', path='x.h5'), 'clip_features')


def test_hdf5_readers_share_the_per_process_handle(tmp_path):
    """HDF5FeatureStore and ConfidenceStore: one handle per process, dropped when pickled (DataLoader workers),
    reopened after a fork (simulated by another pid)."""
    import pickle

    import h5py

    from zeetad.utils.lazy_h5 import LazyH5File
    from zeetad.zeal.confidence_store import ConfidenceStore
    with h5py.File(tmp_path / 'f.h5', 'w') as f:
        f.create_dataset('v1', data=np.ones((4, 3), np.float32))
    conf = ConfidenceStore(str(tmp_path / 'c.h5'), mode='a')
    conf.write('v1', np.zeros((2, 1, 2)), ['Jump'], sample_fps=1.0)
    for store, check in ((HDF5FeatureStore(str(tmp_path / 'f.h5')), lambda s: s.shape('v1') == (4, 3)),
                         (conf, lambda s: s.has('v1'))):
        assert isinstance(store, LazyH5File) and check(store)
        handle = store._handle()
        assert store._handle() is handle  # reused in this process
        clone = pickle.loads(pickle.dumps(store))
        assert clone._file is None and check(clone)
        store._pid = -1  # as seen from a forked child
        assert store._handle() is not handle and check(store)
    conf.close()
