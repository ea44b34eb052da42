"""Open-vocabulary detection on users' videos: files in, detections in seconds out.

``detect_videos`` runs the whole path of ``tools/detect.py``: probe the videos, load the model (checking
the checkpoint first, before any slow work), extract the CLIP features the method needs (cached), run
ZEETAD window by window or ZEAL on whole videos, and return detections in the official results layout.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

from .class_names import parse_class_names
from .errors import DetectError, MissingFeaturesError, VideoReadError
from .features import ClipSpec, SourceKeyedStore, extract_clip_cached
from .inference import StreamSpec, VideoMeta

DEFAULT_ZEAL_CONFIG = 'zeal/zeal_thumos14.py'  # shipped with the package (zeetad.utils.resources)


@dataclass
class DetectionRun:
    """What a detection run produced. ``results`` is ``{video: [{"label", "score", "segment"}]}`` (seconds)."""
    method: str
    classes: list
    videos: dict
    results: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    curves_label: str = ''
    failed: dict = field(default_factory=dict)
    score_meaning: str = ''


def probe_videos(source: str) -> tuple[list, dict]:
    """``(readable videos as VideoMeta, {path: reason} of unreadable ones)`` of a video, folder or list file.

    Raises:
        VideoReadError: ``source`` is one video and cannot be read.
    """
    from zeetad.video.probe import VideoDecodeError, probe_video
    from zeetad.video.sources import list_videos
    try:
        sources = list_videos(source)
    except ValueError as exc:  # two videos with one file stem (the video id)
        raise DetectError(str(exc)) from None
    if not sources:
        raise DetectError(f'no video files found in {source}')
    videos, failed = [], {}
    for src in sources:
        try:
            info = probe_video(src.path, check_end=True)  # a truncated file: the decodable duration
        except VideoDecodeError as exc:
            if len(sources) == 1:
                raise VideoReadError(src.path, exc.reason) from None
            failed[src.video_id] = f'cannot read {src.path}: {exc.reason}'
            continue
        videos.append(VideoMeta(src.video_id, src.path, info.duration_s, info.fps))
    return videos, failed


def _frame_fps(stream: dict, key: str) -> float:
    tb = stream.get('timebase') or {}
    if 'sample_fps' not in tb:
        raise DetectError(f'{key}.timebase must be a frame-level time base (sample_fps=...) for detect to '
                          f'extract it, got {dict(tb)}')
    if float(tb.get('offset_s', 0.0)) != 0.0:
        raise DetectError(f'{key}.timebase.offset_s must be 0: detect samples frame i at i / fps seconds')
    return float(tb['sample_fps'])


def _loc_is_clip(cfg, loc: dict, clip: Optional[dict]) -> bool:
    if cfg.get('loc_stream') == 'clip':
        return True
    return bool(clip) and loc.get('format') in ('hdf5', 'h5') and loc.get('path') == clip.get('path')


def _user_loc_store_cfg(path: str, loc: dict) -> dict:
    meta = dict(dim=loc.get('dim'), timebase=loc['timebase'])
    if os.path.isdir(path):
        return dict(format='npy', root=path, prefix=loc.get('prefix', ''), suffix=loc.get('suffix', '.npy'), **meta)
    if os.path.isfile(path):
        return dict(format='hdf5', path=path, prefix=loc.get('prefix', ''), **meta)
    raise FileNotFoundError(f'--loc-features: no such folder or HDF5 file: {path}')


def _check_user_loc(store, videos: list, path: str, dim: Optional[int] = None) -> None:
    """Every video has ``(T >= 1, dim)`` features in ``store`` (else an error naming the file and video)."""
    absent = [v.video_id for v in videos if not store.has(v.video_id)]
    if absent:
        raise MissingFeaturesError(f'--loc-features {path} has no features for {absent[:3]} '
                                   f'({len(absent)} of {len(videos)} videos; ids are the video file stems)')
    for video in videos:
        shape = tuple(store.shape(video.video_id))
        if len(shape) != 2 or shape[0] < 1 or (dim is not None and shape[1] != dim):
            raise DetectError(f'--loc-features {store.path_of(video.video_id)}: features of video '
                              f'{video.video_id!r} must be (T >= 1, {dim or "C"}), got shape {shape}')


def run_zeetad(run: DetectionRun, cfg, checkpoint: str, cache_dir: str, *, loc_features: Optional[str] = None,
               device: str = 'cpu', allow_short: bool = False, batch_size: int = 8, num_workers: int = 0,
               progress: bool = True, curves: bool = True) -> None:
    """Fill ``run`` with ZEETAD's detections of ``run.videos`` (see :func:`detect_videos`)."""
    from zeetad.datasets.feature_store import build_feature_store
    from zeetad.evaluation.postprocess import to_official_results
    from .errors import VideoTooShortError
    from .inference import build_merger, clip_similarity_curves, detect_windows, merge_video
    from .model_loading import init_detector

    if cfg.model.get('type') == 'ZEAL':
        raise DetectError('this is a ZEAL config (training-free): run it with --zeal --lvlm PATH')
    ds = cfg.test_dataloader.dataset
    loc, clip = dict(ds['loc_features']), (dict(ds['clip_features']) if ds.get('clip_features') else None)
    if not checkpoint:
        raise DetectError('ZEETAD needs --checkpoint (a trained model); or use --zeal (training-free)')
    loc_clip = _loc_is_clip(cfg, loc, clip)
    if not loc_clip and not loc_features:
        raise MissingFeaturesError(
            'this config localises on precomputed video features (I3D/TSP), which detect cannot compute: pass '
            '--loc-features DIR_OR_H5 with one (T, C) array per video, or use a CLIP-stream-only config such as '
            'configs/zeetad/zeetad_clip_only_thumos14.py, which needs nothing but the video')
    model = init_detector(cfg, checkpoint, device)  # checks the checkpoint before any slow work
    from zeetad.models.classifiers.name_scorer import score_meaning
    run.score_meaning = score_meaning(getattr(model, 'test_cfg', {}).get('class_score'))
    if loc_clip:
        _check_lengths(run, loc, ds.get('window_size') if not ds.get('resize_length') else None, allow_short)
    te = cfg.model.classifier.text_encoder
    wanted = {}
    if clip:
        wanted['clip'] = ClipSpec.from_text_encoder(te, _frame_fps(clip, 'clip_features'))
    if loc_clip:
        wanted['loc'] = ClipSpec.from_text_encoder(te, _frame_fps(loc, 'loc_features'))
    videos = list(run.videos.values())
    files = {}
    for spec in dict.fromkeys(wanted.values()):
        path, report = extract_clip_cached([_source(v) for v in videos], cache_dir, spec, device=device,
                                           num_workers=num_workers, progress=progress)
        files[spec] = path
        for vid, reason in (report.failed.items() if report else ()):
            run.failed[vid] = reason
    stores = {}
    for key, stream in (('loc', loc), ('clip', clip)):
        if key in wanted:
            cached = build_feature_store(dict(format='hdf5', path=files[wanted[key]], dim=stream.get('dim'),
                                              timebase=stream['timebase']), f'{key}_features')
            stores[key] = SourceKeyedStore(cached, videos)
    clip_cfg = None
    if clip:  # the cache names videos by source_key: no prefix/suffix of the config's own feature file
        clip_cfg = dict(format='hdf5', path=files[wanted['clip']], dim=clip.get('dim'), timebase=clip['timebase'])
    if not loc_clip:
        user = _user_loc_store_cfg(loc_features, loc)
        stores['loc'] = build_feature_store(user, 'loc_features')
        _check_user_loc(stores['loc'], videos, loc_features, loc.get('dim'))
    spec = StreamSpec(loc=loc, clip=clip_cfg, window_size=ds.get('window_size'),
                      window_overlap=float(ds.get('window_overlap', 0.25)), resize_length=ds.get('resize_length'))
    merger = build_merger(cfg)
    detections = {}
    for video in videos:
        if video.video_id in run.failed:
            continue
        try:
            windows = detect_windows(model, video, spec, run.classes, stores['loc'], stores.get('clip'),
                                     allow_short=allow_short, batch_size=batch_size)
        except VideoTooShortError as exc:
            if len(videos) == 1:
                raise
            run.failed[video.video_id] = str(exc)
            continue
        detections[video.video_id] = merge_video(merger, windows, video.duration)
        if curves and clip_cfg is not None:
            run.curves[video.video_id] = clip_similarity_curves(model, stores['clip'], video.video_id, clip_cfg,
                                                                run.classes)
    run.results = to_official_results(detections, run.classes)
    run.curves_label = 'CLIP frame-class cosine'


def _check_lengths(run: DetectionRun, loc: dict, window: Optional[int], allow_short: bool) -> None:
    """Fail early (before extracting features) on videos shorter than the window of a CLIP-frame stream."""
    from zeetad.video.decode import sample_count
    from .errors import VideoTooShortError
    from .inference import video_windows
    loc_spec = StreamSpec(loc=loc, clip=None, window_size=window, window_overlap=0.0, resize_length=None)
    single = len(run.videos) == 1
    for video in list(run.videos.values()):
        try:
            video_windows(video, loc_spec, sample_count(video.duration, _frame_fps(loc, 'loc_features')), allow_short)
        except VideoTooShortError as exc:
            if single:
                raise
            run.failed[video.video_id] = str(exc)
            del run.videos[video.video_id]


def _source(video: VideoMeta):
    from zeetad.video.sources import VideoSource
    return VideoSource(video.video_id, video.path)


def run_zeal(run: DetectionRun, cfg, cache_dir: str, *, lvlm: Optional[str], queries_file: Optional[str] = None,
             device: str = 'cpu', lvlm_batch_size: int = 8, num_workers: int = 0, progress: bool = True) -> None:
    """Fill ``run`` with ZEAL's detections of ``run.videos`` (see :func:`detect_videos`)."""
    from zeetad.datasets.feature_store import build_feature_store
    from zeetad.evaluation.postprocess import to_official_results
    from .zeal_inference import ZEALDetector
    detector = ZEALDetector(cfg, run.classes, cache_dir, lvlm, queries_file, device=device,
                            lvlm_batch_size=lvlm_batch_size, progress=progress)
    frames = cfg.test_dataloader.dataset['loc_features']
    spec = ClipSpec.from_text_encoder(cfg.model.text_encoder, _frame_fps(frames, 'loc_features'))
    videos = list(run.videos.values())
    path, report = extract_clip_cached([_source(v) for v in videos], cache_dir, spec, device=device,
                                       num_workers=num_workers, progress=progress)
    run.failed.update(report.failed if report else {})
    store = SourceKeyedStore(build_feature_store(dict(format='hdf5', path=path), 'frame_features'), videos)
    detections, run.curves, failed = detector.run([v for v in videos if v.video_id not in run.failed], store,
                                                  spec.fps)
    run.failed.update(failed)
    run.results = to_official_results(detections, run.classes)
    run.curves_label = 'LVLM P(yes): start, end (dashed)'


def detect_videos(source: str, classes, *, config: Optional[str] = None, checkpoint: Optional[str] = None,
                  zeal: bool = False, cache_dir: Optional[str] = None, cfg_options: Optional[dict] = None,
                  **kwargs) -> DetectionRun:
    """Detect ``classes`` (names, see :func:`parse_class_names`) in a video, a folder or a list of videos.

    Args:
        config / checkpoint: a ZEETAD config and trained checkpoint; with ``zeal=True`` a ZEAL config
            (default ``configs/zeal/zeal_thumos14.py``) and no checkpoint.
        cache_dir: where extracted features (and ZEAL's LVLM confidences) are cached.
        kwargs: :func:`run_zeetad` / :func:`run_zeal` options (``device``, ``allow_short``, ``loc_features``,
            ``lvlm``, ``queries_file``, ``num_workers``, ``progress``, ...).

    Raises:
        NoClassesError, VideoReadError (a single unreadable video), VideoTooShortError (a single video),
        TextEncoderMismatchError, MissingFeaturesError, DetectError. With several videos, per-video
        failures are collected in ``run.failed`` instead.
    """
    from .model_loading import load_detect_config
    names = parse_class_names(classes)
    if not config and zeal:
        from zeetad.utils.resources import shipped_config
        config = shipped_config(DEFAULT_ZEAL_CONFIG)
    if not config:
        raise DetectError('pass --config CFG --checkpoint CKPT (a trained ZEETAD), or --zeal (training-free)')
    from zeetad.engine.config_check import ConfigError, validate_config
    try:  # tools/test.py's start-up check, less the files (videos replace the test set)
        cfg = load_detect_config(config, cfg_options)
        validate_config(cfg, 'test', files=False)
    except ConfigError as exc:
        raise DetectError(str(exc)) from None
    videos, failed = probe_videos(source)
    run = DetectionRun('zeal' if zeal else 'zeetad', names, {v.video_id: v for v in videos}, failed=failed)
    cache_dir = cache_dir or os.path.join('.', 'zeetad_cache')
    if zeal:
        zeal_keys = ('lvlm', 'queries_file', 'device', 'lvlm_batch_size', 'num_workers', 'progress')
        run_zeal(run, cfg, cache_dir, **{k: v for k, v in kwargs.items() if k in zeal_keys})
    else:
        run_zeetad(run, cfg, checkpoint, cache_dir, **{k: v for k, v in kwargs.items() if k not in
                                                      ('lvlm', 'queries_file', 'lvlm_batch_size')})
    if not run.results and run.failed:
        raise DetectError('no video could be processed:\n' + '\n'.join(f'  {k}: {v}' for k, v in run.failed.items()))
    return run


def detect_video(video: str, classes, **kwargs) -> list:
    """Detections ``[{"label", "score", "segment": [start_s, end_s]}]`` of one video (see :func:`detect_videos`)."""
    run = detect_videos(video, classes, **kwargs)
    if run.failed:
        raise DetectError(next(iter(run.failed.values())))
    return next(iter(run.results.values()), [])
