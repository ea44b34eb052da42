"""Zero-shot proposal classifier: query embeddings scored against CLIP text embeddings."""
import math
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from zeetad.registry import MODELS
from zeetad.text.clip_text_encoder import CLIPTextEncoder  # noqa: F401  (registers it with MODELS)


def prior_logit_bias(prior_prob: float = 0.01) -> float:
    """Bias making ``sigmoid(bias) == prior_prob`` (focal-loss prior init)."""
    if not 0.0 < prior_prob < 1.0:
        raise ValueError(f'prior_prob must be in (0, 1), got {prior_prob}')
    return -math.log((1.0 - prior_prob) / prior_prob)


@MODELS.register_module()
class ZeroShotProposalClassifier(nn.Module):
    """Open-vocabulary classification of decoder queries by cosine to class prompts.

    ``logits = scale * cos(proj(q), t_k) (+ bias)`` with ``scale = exp(s)``
    clamped to ``max_logit_scale``, ``t_k`` the CLIP text embedding of class
    k. Any class list may be passed at test time.

    Args:
        text_encoder: config (or instance) of a text encoder with
            ``encode(class_names) -> (K, D)`` and ``embed_dim``.
        in_dim: width of the query semantic embeddings.
        hidden_dim: if set, the projection is Linear-GELU-Linear through this
            width; otherwise one Linear ``in_dim -> D``.
        logit_scale_init: initial log-scale ``s`` (CLIP's ``log(1/0.07)``).
        learnable_scale: train ``s``; otherwise it is a buffer.
        max_logit_scale: upper clamp of ``exp(s)`` (CLIP uses 100).
        bias_init: initial value of a learnable scalar logit bias, e.g.
            ``prior_logit_bias(0.01)`` for sigmoid/focal losses; None: no bias.
    """

    def __init__(self,
                 text_encoder: Union[dict, nn.Module],
                 in_dim: int,
                 hidden_dim: Optional[int] = None,
                 logit_scale_init: float = math.log(1 / 0.07),
                 learnable_scale: bool = True,
                 max_logit_scale: float = 100.0,
                 bias_init: Optional[float] = None) -> None:
        super().__init__()
        self.text_encoder = MODELS.build(text_encoder) if isinstance(text_encoder, dict) else text_encoder
        embed_dim = int(self.text_encoder.embed_dim)
        if hidden_dim:
            self.proj = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, embed_dim))
        else:
            self.proj = nn.Linear(in_dim, embed_dim)
        init = torch.tensor(float(logit_scale_init))
        if learnable_scale:
            self.log_logit_scale = nn.Parameter(init)
        else:
            self.register_buffer('log_logit_scale', init)
        self.max_logit_scale = float(max_logit_scale)
        self.logit_bias = None if bias_init is None else nn.Parameter(torch.tensor(float(bias_init)))
        self.in_dim = in_dim
        self.embed_dim = embed_dim

    @property
    def logit_scale(self) -> torch.Tensor:
        """Current multiplier ``exp(s)`` (scalar tensor), at most ``max_logit_scale``."""
        return self.log_logit_scale.exp().clamp(max=self.max_logit_scale)

    def text_embeddings(self, class_names: Sequence[str]) -> torch.Tensor:
        """L2-normalised class embeddings ``(K, D)`` (cached by the encoder)."""
        return self.text_encoder.encode(list(class_names))

    def project(self, query_embeds: torch.Tensor) -> torch.Tensor:
        """L2-normalised queries in CLIP space: ``(..., in_dim) -> (..., D)``."""
        return F.normalize(self.proj(query_embeds), dim=-1)

    def forward(self,
                query_embeds: torch.Tensor,
                class_names: Optional[Sequence[str]] = None,
                text_embeds: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Class logits ``(..., Q, K)`` for queries ``(..., Q, in_dim)`` (any leading dims, e.g. ``(M, B)``).

        Pass ``class_names`` (K names), or precomputed L2-normalised
        ``text_embeds`` ``(K, D)`` to skip the text encoder.
        """
        if text_embeds is None:
            if class_names is None:
                raise ValueError('pass class_names or text_embeds')
            text_embeds = self.text_embeddings(class_names)
        q = self.project(query_embeds)
        logits = self.logit_scale * torch.matmul(q, text_embeds.to(q.dtype).t())
        if self.logit_bias is not None:
            logits = logits + self.logit_bias
        return logits

    def extra_repr(self) -> str:
        return f'in_dim={self.in_dim}, embed_dim={self.embed_dim}, max_logit_scale={self.max_logit_scale}'
