"""Videos -> frames -> CLIP features: decoding (shared with ZEAL), the image encoder, HDF5 files.

``av`` and ``open_clip`` are imported only when a video is opened or a model built.
"""
from .clip_image import ClipImageEncoder, FramePreprocessor, normalize_frames
from .decode import iter_frames, sample_count
from .extract import extract_features, run_attributes
from .feature_file import FeatureFileMismatch, FeatureFileWriter, complete_ids
from .feature_shards import find_shards, merge_feature_files, shard_path
from .frame_loader import DecodeWorkerError, VideoFrameChunks, make_frame_loader
from .launch import dist_env, merge_shards, resolve_device, run_extraction
from .probe import VideoDecodeError, VideoInfo, probe_video
from .report import ExtractReport, format_summary
from .sources import VideoSource, list_videos, shard_videos, video_id_of

__all__ = [
    'ClipImageEncoder', 'FramePreprocessor', 'normalize_frames', 'VideoDecodeError', 'VideoInfo', 'iter_frames',
    'probe_video', 'sample_count', 'extract_features', 'run_attributes', 'FeatureFileMismatch',
    'FeatureFileWriter', 'complete_ids', 'find_shards', 'merge_feature_files', 'shard_path', 'VideoFrameChunks',
    'DecodeWorkerError', 'make_frame_loader', 'dist_env', 'merge_shards', 'resolve_device', 'run_extraction', 'ExtractReport',
    'format_summary', 'VideoSource', 'list_videos', 'shard_videos', 'video_id_of'
]
