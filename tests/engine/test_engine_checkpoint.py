import os
import shutil

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, save_checkpoint

import zeetad.engine  # noqa: F401  (installs the safe loader and the atomic backend)
from zeetad.engine.checkpoint_io import CheckpointError, find_latest_checkpoint, load_checkpoint_file


def _mmengine_like_checkpoint():
    buf = HistoryBuffer()
    buf.update(0.5)
    return {'meta': {'epoch': 2, 'iter': 10, 'seed': 1, 'dataset_meta': {'classes': ('a', 'b')}},
            'state_dict': {'w': torch.ones(3)},
            'message_hub': {'log_scalars': {'train/loss': buf}, 'runtime_info': {'epoch': 2},
                            'resumed_keys': {'epoch': True}},
            'extra': np.arange(3, dtype=np.float32)}


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    path = str(tmp_path / 'epoch_2.pth')
    save_checkpoint(_mmengine_like_checkpoint(), path)
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(3))
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() == 0.5
    assert np.array_equal(ckpt['extra'], np.arange(3))


def test_arbitrary_objects_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ('echo pwned',))
    path = str(tmp_path / 'evil.pth')
    torch.save({'x': Evil()}, path)
    with pytest.raises(CheckpointError, match=r'evil.pth: refused to load: it holds posix.system') as info:
        load_checkpoint_file(path)
    assert 'not a PyTorch checkpoint' not in str(info.value)


def test_bytes_that_are_no_pickle_are_not_called_forbidden_objects(tmp_path):
    path = tmp_path / 'garbage.pth'
    path.write_bytes(b'garbage' * 10)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint_file(str(path))
    message = str(info.value)
    assert message.startswith(f'{path}: not a PyTorch checkpoint') and 'allowed checkpoint types' not in message


def test_truncated_and_foreign_files_are_named(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    save_checkpoint(_mmengine_like_checkpoint(), str(path))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='epoch_1.pth'):
        load_checkpoint_file(str(path))
    foreign = tmp_path / 'notes.pth'
    foreign.write_text('hello')
    with pytest.raises(CheckpointError, match='notes.pth'):
        load_checkpoint_file(str(foreign))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_checkpoint_file(str(tmp_path / 'missing.pth'))


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / 'iter_5.pth'
    save_checkpoint({'w': torch.zeros(2)}, str(path))

    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # interrupted mid-write

    monkeypatch.setattr(os, 'fsync', boom)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({'w': torch.ones(2)}, str(path))
    # the previous complete file is untouched and no temporary file is left behind
    assert torch.equal(load_checkpoint_file(str(path))['w'], torch.zeros(2))
    assert sorted(os.listdir(tmp_path)) == ['iter_5.pth']


def test_latest_checkpoint_survives_a_moved_work_dir(tmp_path):
    old = tmp_path / 'old'
    old.mkdir()
    for n in (1, 2):
        save_checkpoint({'n': torch.tensor(n)}, str(old / f'epoch_{n}.pth'))
    (old / 'last_checkpoint').write_text(str(old / 'epoch_2.pth'))
    new = tmp_path / 'new'
    shutil.move(str(old), str(new))
    assert find_latest_checkpoint(str(new)) == str(new / 'epoch_2.pth')
    os.remove(new / 'last_checkpoint')
    assert find_latest_checkpoint(str(new)) == str(new / 'epoch_2.pth')
    assert find_latest_checkpoint(str(tmp_path)) is None


def test_state_dict_fit_check_names_the_file_and_first_keys():
    from zeetad.engine.checkpoint_io import check_state_dict_fits
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    state = {f'module.{k}': v for k, v in model.state_dict().items()}  # saved from a DDP-wrapped model
    check_state_dict_fits(model, state, 'ok.pth')
    state['module.0.weight'] = torch.zeros(2, 4)
    state['module.2.bias'] = torch.zeros(1)
    del state['module.1.bias']
    with pytest.raises(CheckpointError, match=r'other.pth does not fit.*1 shape mismatches: 0\.weight \(2, 4\) in '
                                              r'the checkpoint vs \(2, 3\).*1 missing keys: 1\.bias.*1 unexpected '
                                              r'keys: 2\.bias'):
        check_state_dict_fits(model, state, 'other.pth')


@pytest.mark.slow  # trains one tiny epoch, then three runners (~35 s of CPU)
def test_checkpoint_of_another_class_split_is_refused(tiny_dataset, tiny_clip_ckpt, tmp_path):
    """Another split's weights fit the model exactly: testing would score "unseen" classes the checkpoint was
    trained on (an inflated zero-shot mAP), resuming would train on other classes; both used to pass silently."""
    from testing_utils import ROOT, tiny_config_options

    from zeetad.engine.runner_setup import build_runner, load_config
    splits = os.path.join(tiny_dataset['split']['root'], 'train_75_test_25', 'Toy')
    for part, names in (('train', 'Swim\nThrow\nRun\n'), ('test', 'Jump\n')):  # split 1: Jump unseen, seen in 0
        with open(os.path.join(splits, part, 'split_1.list'), 'w') as f:
            f.write(names)
    demo = str(ROOT / 'configs/zeetad/zeetad_synthetic_thumos14_demo.py')

    def runner(index, work_dir, **kwargs):
        options = {**tiny_config_options(tiny_dataset, tmp_path), 'train_cfg.max_epochs': 1,
                   'train_cfg.target_iters': None,
                   'model.classifier.text_encoder.pretrained': tiny_clip_ckpt,
                   'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
                   'test_dataloader.num_workers': 0, 'test_dataloader.persistent_workers': False,
                   'model.localizer.d_model': 32, 'model.localizer.transformer.dim_ff': 64,
                   'model.localizer.actionness.hidden_dim': 32, 'model.localizer.transformer.num_queries': 8,
                   'default_hooks.checkpoint.interval': 1, 'val_cfg': None, 'val_dataloader': None,
                   'val_evaluator': None, 'train_cfg.val_interval': 100}
        for loader in ('train_dataloader', 'test_dataloader'):
            options[f'{loader}.dataset.split.index'] = index
        cfg = load_config(demo, options, work_dir=str(tmp_path / work_dir))
        cfg.load_from = kwargs.pop('load_from', None)
        return build_runner(cfg, **kwargs)

    runner(0, 'train').train()
    ckpt = str(tmp_path / 'train' / 'epoch_1.pth')
    with pytest.raises(CheckpointError, match=r"epoch_1.pth was trained on zero-shot 75/25 split 0, whose seen "
                                              r"classes include 1 of the classes this config tests as unseen "
                                              r"\(zero-shot 75/25 split 1\): \['Jump'\]"):
        runner(1, 'test1', load_from=ckpt, stage='test').test()
    with pytest.raises(CheckpointError, match='epoch_1.pth was trained on zero-shot 75/25 split 0, this config '
                                              'trains on zero-shot 75/25 split 1'):
        runner(1, 'resume1', resume=ckpt).train()
    assert 'average_mAP' in str(runner(0, 'test0', load_from=ckpt, stage='test').test())  # its own split: fine


def test_training_only_tensors_follow_the_model_outside_resume():
    from zeetad.engine.checkpoint_io import check_state_dict_fits, fit_training_only
    plain = torch.nn.ModuleDict({'head': torch.nn.Linear(3, 2)})
    with_dn = torch.nn.ModuleDict({'head': torch.nn.Linear(3, 2), 'denoising': torch.nn.Linear(2, 2)})
    trained = {f'module.{k}': v for k, v in with_dn.state_dict().items()}
    assert fit_training_only(plain, trained) == ['denoising.weight', 'denoising.bias']
    assert sorted(trained) == ['module.head.bias', 'module.head.weight']
    check_state_dict_fits(plain, trained, 'dn.pth')
    state = plain.state_dict()
    assert fit_training_only(with_dn, state) == ['denoising.weight', 'denoising.bias']
    assert torch.equal(state['denoising.weight'], with_dn.denoising.weight)
    check_state_dict_fits(with_dn, state, 'plain.pth')
    other = {'head.weight': torch.zeros(2, 3)}  # other tensors stay the fit check's business
    fit_training_only(plain, other)
    with pytest.raises(CheckpointError, match='1 missing keys: head.bias'):
        check_state_dict_fits(plain, other, 'x.pth')


def test_test_accepts_a_checkpoint_trained_with_denoising_queries(options, tiny_clip_ckpt, tmp_path):
    """tools/test.py refused it: "N unexpected keys: denoising.content, ..." although they are training-only."""
    import zeetad.models  # noqa: F401
    from testing_utils import DEMO_CONFIG

    from zeetad.engine.runner_setup import build_runner, load_config
    from zeetad.registry import MODELS
    options = {**options, 'model.classifier.text_encoder.pretrained': tiny_clip_ckpt,
               'test_dataloader.num_workers': 0, 'test_dataloader.persistent_workers': False}
    cfg = load_config(DEMO_CONFIG, options, work_dir=str(tmp_path / 'work'))
    assert cfg.model.denoising == dict(num_groups=3)  # trained with denoising queries, tested without them
    trained = MODELS.build(cfg.model)
    cfg.model.denoising = None
    ckpt = str(tmp_path / 'dn.pth')
    torch.save({'state_dict': trained.state_dict(), 'meta': {}}, ckpt)
    cfg.load_from = ckpt
    runner = build_runner(cfg, stage='test')
    assert 'average_mAP' in str(runner.test())
    head = 'classifier.logit_bias'
    assert torch.equal(runner.model.state_dict()[head], trained.state_dict()[head])
