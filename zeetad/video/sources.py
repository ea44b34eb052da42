"""Which videos to process: listing a folder or a list file, video ids, sharding across ranks."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, List, Sequence

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v', '.mpg', '.mpeg', '.flv', '.wmv', '.3gp',
                    '.ts', '.mts', '.ogv')


@dataclass(frozen=True)
class VideoSource:
    """One input video: ``video_id`` (the file stem, the HDF5 dataset name) and its ``path``."""
    video_id: str
    path: str


def video_id_of(path: str) -> str:
    """The id of a video file: its name without the extension (``v_abc.mp4`` -> ``v_abc``)."""
    return os.path.splitext(os.path.basename(path))[0]


def list_videos(source: str, extensions: Sequence[str] = VIDEO_EXTENSIONS,
                recursive: bool = False) -> List[VideoSource]:
    """Videos named by ``source``: a folder, a text file of paths, or one video file.

    A folder contributes its files with a video extension (``recursive``:
    subfolders too). A list file has one path per line (blank lines and
    ``#`` comments skipped); relative paths are relative to the list's folder,
    and listed files need not exist (missing ones then fail individually).
    Ids must be unique: two files with the same stem raise ``ValueError``.
    The result is sorted by id.
    """
    exts = tuple(e.lower() for e in extensions)
    if os.path.isdir(source):
        paths = []
        for folder, subdirs, files in os.walk(source):
            subdirs.sort()
            paths += [os.path.join(folder, f) for f in sorted(files)
                      if f.lower().endswith(exts) and not f.startswith('.')]
            if not recursive:
                break
    elif os.path.isfile(source) and source.lower().endswith(exts):
        paths = [source]
    elif os.path.isfile(source):
        paths = _read_list(source)
    else:
        raise FileNotFoundError(f'no such video folder, list file or video: {source}')
    return _unique(VideoSource(video_id_of(p), p) for p in paths)


def _read_list(list_file: str) -> List[str]:
    base = os.path.dirname(os.path.abspath(list_file))
    paths = []
    with open(list_file, 'r', encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            path = os.path.expanduser(line)
            paths.append(path if os.path.isabs(path) else os.path.join(base, path))
    return paths


def _unique(videos: Iterable[VideoSource]) -> List[VideoSource]:
    by_id = {}
    for video in videos:
        if video.video_id in by_id and by_id[video.video_id].path != video.path:
            raise ValueError(f'two videos share the id {video.video_id!r}: {by_id[video.video_id].path} and '
                             f'{video.path}; ids are file stems, rename one')
        by_id[video.video_id] = video
    return [by_id[k] for k in sorted(by_id)]


def shard_videos(videos: Sequence[VideoSource], rank: int, world_size: int) -> List[VideoSource]:
    """The share of ``rank`` among ``world_size`` ranks, balanced by file size.

    Largest files first, each to the rank with the least bytes so far (ties to
    the rank with fewer videos, then the lower rank): deterministic for the same files on every rank, and long
    videos do not pile up on one GPU. Missing files count as size 0.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f'need 0 <= rank < world_size, got rank={rank}, world_size={world_size}')
    if world_size == 1:
        return list(videos)

    def size(v: VideoSource) -> int:
        try:
            return os.path.getsize(v.path)
        except OSError:
            return 0

    load, count = [0] * world_size, [0] * world_size
    mine = []
    for video in sorted(videos, key=lambda v: (-size(v), v.video_id)):
        target = min(range(world_size), key=lambda r: (load[r], count[r], r))
        load[target] += size(video)
        count[target] += 1
        if target == rank:
            mine.append(video)
    return sorted(mine, key=lambda v: v.video_id)
