from .actionness_head import ActionnessHead
from .segment_pooling import pool_in_segments, sample_in_segments, soft_segment_mask

__all__ = ['ActionnessHead', 'pool_in_segments', 'sample_in_segments', 'soft_segment_mask']
