"""Annotation loaders are looked up in ANNOTATION_LOADERS by the dataset's ``ann_format``: a new file format is
one registered function, and an unknown name is an error naming the file or the config key."""
import pytest

from zeetad.datasets import TADDataset
from zeetad.datasets.annotations import AnnotationError, Instance, VideoRecord, load_annotations
from zeetad.datasets.tad_dataset import dataset_problems
from zeetad.registry import ANNOTATION_LOADERS


def load_csv(path, subsets):
    """``video,subset,duration,label,start,end`` rows (a toy format registered only inside the test)."""
    videos = {}
    for line in open(path).read().split():
        vid, subset, duration, label, start, end = line.split(',')
        rec = videos.setdefault(vid, VideoRecord(vid, subset, float(duration), 10.0))  # 10 fps, as the features
        rec.instances.append(Instance(label, float(start), float(end)))
    return [r for r in videos.values() if subsets is None or r.subset.lower() in subsets]


@pytest.fixture
def csv_format():
    ANNOTATION_LOADERS.register_module(name='csv', module=load_csv)
    yield
    ANNOTATION_LOADERS.module_dict.pop('csv')


def test_registered_format_loads_and_filters_subsets(csv_format, tmp_path):
    path = tmp_path / 'ann.csv'
    path.write_text('v2,Test,30,Throw,1,4\nv1,Validation,20,Jump,2,6\nv1,Validation,20,Run,8,9\n')
    records = load_annotations(path, ann_format='csv')
    assert [r.video_id for r in records] == ['v1', 'v2']  # sorted by id, whatever the loader's order
    assert records[0].labels == ['Jump', 'Run']
    assert [r.video_id for r in load_annotations(path, ['test'], ann_format='csv')] == ['v2']


def test_the_dataset_reads_a_registered_format(csv_format, tiny_dataset, tmp_path):
    path = tmp_path / 'ann.csv'
    path.write_text('vid_b,Validation,20,Swim,3,9\nvid_d,Test,30,Throw,1,4\nvid_d,Test,30,Jump,12,20\n'
                    'vid_e,Test,15,Run,2,5\n')
    ds = TADDataset(ann_file=str(path), ann_format='csv', subset='Test', role='test', split=tiny_dataset['split'],
                    loc_features=tiny_dataset['loc_features'], clip_features=tiny_dataset['clip_features'],
                    window_size=4, verbose=False)
    assert {ds[i]['data_samples']['video_id'] for i in range(len(ds))} == {'vid_d'}  # the unseen class's video


def test_unknown_format_is_named(tmp_path):
    with pytest.raises(AnnotationError, match=r"ann.json: ann_format must be one of \['activitynet'.*'actvitynet'"):
        load_annotations(tmp_path / 'ann.json', ann_format='actvitynet')
    problems = dataset_problems(dict(ann_format='actvitynet', window_size=8), 'test_dataloader.dataset')
    assert any(p.startswith('test_dataloader.dataset.ann_format:') and "did you mean 'activitynet'" in p
               for p in problems)
