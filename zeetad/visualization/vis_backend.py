"""A visualisation backend that always writes mmengine's local files and adds TensorBoard when it can.

mmengine's ``TensorboardVisBackend`` raises ``ImportError`` at the first logged value when the
``tensorboard`` package is missing, which would stop a training run. This backend degrades instead: it is
a ``LocalVisBackend`` (``vis_data/scalars.json``, config, images, exactly as before) that also writes
TensorBoard event files into the same folder when ``torch.utils.tensorboard`` (or ``tensorboardX``) can be
imported, and otherwise warns once and carries on with the local files only.
"""
from __future__ import annotations

import logging
import numbers
import warnings
from typing import Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.visualization import LocalVisBackend
from mmengine.visualization.vis_backend import force_init_env

from zeetad.registry import VISBACKENDS

MISSING_TENSORBOARD = ('tensorboard is not installed, so TensorBoard logging is off and only the local files '
                       '(vis_data/scalars.json) are written; `pip install tensorboard` to enable it')


def _summary_writer_cls():
    """``SummaryWriter`` from torch (needs the ``tensorboard`` package) or tensorboardX; ``None`` if neither."""
    try:
        from torch.utils.tensorboard import SummaryWriter
        return SummaryWriter
    except ImportError:
        pass
    try:
        from tensorboardX import SummaryWriter
        return SummaryWriter
    except ImportError:
        return None


def _is_scalar(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() == 1
    if isinstance(value, np.ndarray):
        return value.size == 1
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


@VISBACKENDS.register_module()
class LocalTensorboardVisBackend(LocalVisBackend):
    """``LocalVisBackend`` + TensorBoard events (loss terms, learning rate, validation mAP, images, config).

    Args:
        save_dir: mmengine passes ``<work_dir>/<timestamp>/vis_data``; event files go there too, so
            ``tensorboard --logdir work_dirs`` finds every run.
        tensorboard: the config switch; ``False`` behaves exactly like ``LocalVisBackend``.
        img_save_dir, config_save_file, scalar_save_file: as in ``LocalVisBackend``.
    """

    def __init__(self, save_dir: str, tensorboard: bool = True, img_save_dir: str = 'vis_image',
                 config_save_file: str = 'config.py', scalar_save_file: str = 'scalars.json'):
        super().__init__(save_dir, img_save_dir, config_save_file, scalar_save_file)
        self.tensorboard_requested = bool(tensorboard)
        self._writer = None

    @property
    def tensorboard_enabled(self) -> bool:
        """Whether event files are being written (known once the backend has been used)."""
        return self._writer is not None

    def _init_env(self) -> None:
        super()._init_env()
        if not self.tensorboard_requested:
            return
        writer_cls = _summary_writer_cls()
        if writer_cls is None:
            warnings.warn(MISSING_TENSORBOARD, stacklevel=2)
            print_log(MISSING_TENSORBOARD, logger='current', level=logging.WARNING)
            return
        self._writer = writer_cls(self._save_dir)

    @property  # type: ignore[misc]
    @force_init_env
    def experiment(self):
        """The TensorBoard ``SummaryWriter``, or this backend when TensorBoard is off."""
        return self._writer if self._writer is not None else self

    @force_init_env
    def add_config(self, config: Config, **kwargs) -> None:
        super().add_config(config, **kwargs)
        if self._writer is not None:
            self._writer.add_text('config', f'```\n{config.pretty_text}\n```')

    @force_init_env
    def add_image(self, name: str, image: np.ndarray, step: int = 0, **kwargs) -> None:
        super().add_image(name, image, step, **kwargs)
        if self._writer is not None:
            self._writer.add_image(name, image, step, dataformats='HWC')

    @force_init_env
    def add_scalar(self, name: str, value, step: int = 0, **kwargs) -> None:
        super().add_scalar(name, value, step, **kwargs)
        if self._writer is not None and _is_scalar(value):
            self._writer.add_scalar(name, float(value), step)

    @force_init_env
    def add_scalars(self, scalar_dict: dict, step: int = 0, file_path: Optional[str] = None, **kwargs) -> None:
        super().add_scalars(scalar_dict, step, file_path, **kwargs)
        if self._writer is not None:
            for key, value in scalar_dict.items():
                if key != 'step' and _is_scalar(value):  # lr, loss terms, mAP@..., time; skip strings
                    self._writer.add_scalar(key, float(value), step)

    def close(self) -> None:
        # SummaryWriter reopens its event file on the next write, as mmengine's backend relies on when a
        # runner tests after training (the visualizer is closed after each run).
        if self._writer is not None:
            self._writer.close()
