"""Inference API: open-vocabulary detection on users' videos (``tools/detect.py``'s engine).

    from zeetad.apis import detect_video
    dets = detect_video('match.mp4', 'high jump, pole vault', config=CFG, checkpoint=CKPT)

Importing is cheap: open_clip, av and transformers are imported when a video is processed.
"""
from .class_names import parse_class_names
from .detect import DetectionRun, detect_video, detect_videos, probe_videos, run_zeal, run_zeetad
from .errors import (DetectError, MissingFeaturesError, NoClassesError, RepeatedClassNamesError,
                     TextEncoderMismatchError, VideoReadError, VideoTooShortError)
from .features import ClipSpec, extract_clip_cached
from .inference import (StreamSpec, VideoMeta, build_merger, clip_similarity_curves, detect_windows, merge_video,
                        video_windows)
from .model_loading import check_text_encoder, init_detector, load_detect_config
from .outputs import format_detections, load_curves, save_curves, write_outputs

__all__ = [
    'parse_class_names', 'DetectionRun', 'detect_video', 'detect_videos', 'probe_videos', 'run_zeal', 'run_zeetad',
    'DetectError', 'MissingFeaturesError', 'NoClassesError', 'RepeatedClassNamesError', 'TextEncoderMismatchError',
    'VideoReadError', 'VideoTooShortError', 'ClipSpec', 'extract_clip_cached', 'StreamSpec', 'VideoMeta',
    'build_merger', 'clip_similarity_curves', 'detect_windows', 'merge_video', 'video_windows', 'check_text_encoder',
    'init_detector', 'load_detect_config', 'format_detections', 'load_curves', 'save_curves', 'write_outputs'
]
