"""ZEAL: training-free zero-shot action localisation from LVLM yes/no confidences (arXiv 2410.14340).

Importing registers the :class:`ZEAL` model; transformers, h5py and the video
decoder are imported only when a stage needs them.
"""
from .clip_scores import class_similarity, clip_actionness, key_frame_indices, select_classes
from .confidence_store import ConfidenceStore, VideoConfidences
from .interval_nms import localize_curves, localize_video, merge_near_duplicates, soft_nms_curves
from .intervals import (IntervalConfig, boundary_candidates, minmax_normalize, pair_boundaries, propose_intervals,
                        score_intervals)
from .llm_backends import HFCausalLMBackend, LLMRequestError, OpenAIChatBackend, build_llm_backend
from .lvlm_scorer import DEFAULT_PROMPT, YesNoScorer, answer_token_ids
from .lvlm_stage import LVLMJob, LVLMReport, run_lvlm_stage, score_video, video_questions
from .queries import (ActionQueries, QueryValidationError, build_query_messages, extract_json, load_queries,
                      parse_queries, save_queries, template_queries)
from .query_generation import QueryReport, generate_queries
from .zeal_model import ZEAL

__all__ = [
    'class_similarity', 'clip_actionness', 'key_frame_indices', 'select_classes', 'ConfidenceStore',
    'VideoConfidences', 'localize_curves', 'localize_video', 'merge_near_duplicates', 'soft_nms_curves',
    'IntervalConfig', 'boundary_candidates', 'minmax_normalize', 'pair_boundaries', 'propose_intervals',
    'score_intervals', 'HFCausalLMBackend', 'LLMRequestError', 'OpenAIChatBackend', 'build_llm_backend',
    'DEFAULT_PROMPT', 'YesNoScorer', 'answer_token_ids', 'LVLMJob', 'LVLMReport', 'run_lvlm_stage', 'score_video',
    'video_questions', 'ActionQueries', 'QueryValidationError', 'build_query_messages', 'extract_json',
    'load_queries', 'parse_queries', 'save_queries', 'template_queries', 'QueryReport', 'generate_queries',
    'ZEAL',
]
