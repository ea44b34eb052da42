"""Errors found while the datasets and the loop are built (after the start-up config check): one line naming
the file, video or key, exit status 1, no traceback (they used to print under a Python traceback)."""
import h5py
import numpy as np
import pytest

from testing_utils import DEMO_CONFIG

from zeetad.cli import train
from zeetad.engine.cli import run_tool


def _zero_loc_rows(data):
    np.save(data['root'] / 'loc' / 'vid_a.npy', np.zeros((0, 8), np.float32))


def _zero_clip_rows(data):
    with h5py.File(data['root'] / 'clip.h5', 'a') as h5:
        del h5['vid_a']
        h5['vid_a'] = np.zeros((0, 6), np.float32)


CASES = {
    'no rows of loc features': (_zero_loc_rows, {}, "error: {root}/loc/vid_a.npy: video 'vid_a' has no feature "
                                                    "rows (shape (0, 8))"),
    'no rows of CLIP features': (_zero_clip_rows, {}, "error: {root}/clip.h5:vid_a: video 'vid_a' has no feature rows "
                                                      "(shape (0, 6))"),
    'empty subset': (None, {'train_dataloader.dataset.subset': 'Nope'},
                     "error: {root}/ann.json: subset ['Nope'] has no videos (subsets present: ['Test', 'Validation'])"),
    'target_iters 0': (None, {'train_cfg': dict(type='StepsTargetEpochTrainLoop', target_iters=0, val_interval=1)},
                       'error: train_cfg.target_iters must be a positive integer number of iterations, got 0'),
}


@pytest.mark.parametrize('case', list(CASES))
def test_dataset_and_loop_errors_are_one_line(case, options, tiny_dataset, tiny_clip_ckpt, tmp_path, capsys):
    edit, extra, expected = CASES[case]
    root = tmp_path
    if edit is not None:
        edit(dict(tiny_dataset, root=root))
    options = {**options, 'model.classifier.text_encoder.pretrained': tiny_clip_ckpt, **extra}
    for loader in ('train_dataloader', 'test_dataloader', 'val_dataloader'):
        options.update({f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False})
    args = train.parse_args([DEMO_CONFIG, '--work-dir', str(tmp_path / 'work')])
    args.cfg_options = options
    assert run_tool(train.main, args) == 1
    assert capsys.readouterr().err == expected.format(root=root) + '\n'
