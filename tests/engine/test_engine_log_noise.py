"""mmengine's per-parameter warnings for the frozen CLIP tower come out as one line, so zeetad's own show."""
import logging

from testing_utils import DEMO_CONFIG


def test_frozen_parameter_warnings_are_one_line(options, tiny_clip_ckpt, tmp_path):
    from zeetad.engine.runner_setup import build_runner, load_config
    options = {**options, 'model.classifier.text_encoder.pretrained': tiny_clip_ckpt}
    runner = build_runner(load_config(DEMO_CONFIG, options, work_dir=str(tmp_path / 'work')))
    frozen = [n for n, p in runner.model.named_parameters() if not p.requires_grad]
    assert len(frozen) > 10  # the text tower

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    runner.logger.addHandler(handler)
    try:
        runner.build_optim_wrapper(runner.optim_wrapper)
        runner.logger.warning('a zeetad warning')
    finally:
        runner.logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    assert not [m for m in messages if 'is skipped since its requires_grad' in m]
    assert [m for m in messages if 'requires_grad=False' in m] == [
        f'the optimizer leaves out the {len(frozen)} parameters with requires_grad=False (frozen, e.g. {frozen[0]})']
    assert messages[-1] == 'a zeetad warning'
