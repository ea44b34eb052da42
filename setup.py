"""Install zeetad: ``pip install -e .[dev]`` (see the Makefile for the pinned CPU set-up)."""
from pathlib import Path

import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

here = Path(__file__).parent


class BuildPyWithConfigs(build_py):
    """Also copy ``configs/`` into the built package as ``zeetad/.mim/configs`` (mmdetection's layout for mim).

    The library finds them there through ``zeetad.utils.resources``, so an installed zeetad runs from any
    directory; an editable install reads the checkout's ``configs/`` instead.
    """

    def run(self):
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / 'zeetad' / '.mim' / 'configs'
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(here / 'configs', target, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))

version = {}
exec((here / 'zeetad' / '__init__.py').read_text(), version)

setup(
    name='zeetad',
    version=version['__version__'],
    description='Zero-shot temporal action detection (ZEETAD, ZEAL) on mmengine',
    long_description=(here / 'README.md').read_text() if (here / 'README.md').exists() else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(include=['zeetad', 'zeetad.*']),
    cmdclass={'build_py': BuildPyWithConfigs},
    entry_points={'console_scripts': ['zeetad = zeetad.cli:main']},
    install_requires=[
        'torch>=2.4',  # fused AdamW on CPU (configs/_base_/schedules/adamw_16e.py)
        'torchvision',
        'open_clip_torch>=2.23',
        'mmengine>=0.10.3,<0.11',
        'mmcv-lite>=2.0',
        'h5py>=3.8',
        'numpy>=1.23',
        'scipy>=1.10',
        'rich>=13',
        'tqdm',
        'tensorboard',
    ],
    extras_require={
        'dev': ['pytest>=7', 'pytest-timeout>=2.1', 'hypothesis>=6', 'matplotlib>=3.7', 'av>=11', 'transformers>=4.45',
                'msgspec>=0.18'],
        'fast': ['msgspec>=0.18'],  # eval_detections.py decodes predictions ~5x faster
        'zeal': ['transformers>=4.45', 'av>=11'],
        'plot': ['matplotlib>=3.7'],
    },
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
