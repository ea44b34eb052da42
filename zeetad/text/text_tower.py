"""The text half of an open_clip model, split into steps we can run separately.

Running the tower step by step (embed, blocks ``[start, end)``, pool+project)
lets the encoder truncate padding, skip gradients through a frozen prefix and
insert adapters, without depending on how a given open_clip release lays out
``encode_text``.
"""
from typing import Callable, Optional, Sequence

import torch
from torch import nn

_TRUNCATABLE_POOLS = ('argmax', 'eos', 'first')


class TextTower(nn.Module):
    """Token embedding, transformer blocks, final LayerNorm and projection.

    Built with :meth:`from_open_clip`; the submodules and parameters are the
    model's own objects (no copy), under the same names as in open_clip's
    ``CLIP`` (``token_embedding``, ``positional_embedding``, ``transformer``,
    ``ln_final``, ``text_projection``).
    """

    def __init__(self, token_embedding: nn.Embedding, positional_embedding: nn.Parameter,
                 transformer: nn.Module, ln_final: nn.Module,
                 text_projection: Optional[nn.Module], attn_mask: Optional[torch.Tensor],
                 pool_type: str = 'argmax', eos_id: Optional[int] = None) -> None:
        super().__init__()
        self.token_embedding = token_embedding
        self.positional_embedding = positional_embedding
        self.transformer = transformer
        self.ln_final = ln_final
        self.text_projection = text_projection
        # Not persistent: it is derived from the context length, as in open_clip.
        self.register_buffer('attn_mask', attn_mask, persistent=False)
        self.pool_type = pool_type
        self.eos_id = eos_id
        # Older open_clip releases ran the text transformer sequence-first (LND), with
        # no ``batch_first`` attribute; newer ones default to batch-first.
        self.batch_first = bool(getattr(transformer, 'batch_first', False))

    @classmethod
    def from_open_clip(cls, model: nn.Module) -> 'TextTower':
        """Take the text tower out of an open_clip ``CLIP`` or ``CustomTextCLIP``."""
        src = getattr(model, 'text', None)
        if src is None:  # plain CLIP keeps the text modules on the model itself
            src = model
            pool_type = getattr(model, 'text_pool_type', 'argmax')
            eos_id = getattr(model, 'text_eos_id', None)
        else:
            if not hasattr(getattr(src, 'transformer', None), 'resblocks'):
                raise NotImplementedError(
                    f'text tower {type(src).__name__} (e.g. a Hugging Face model) is not supported; '
                    'use an open_clip model with its own TextTransformer')
            if getattr(src, 'cls_emb', None) is not None or getattr(src, 'use_pad_mask', False):
                raise NotImplementedError('text towers with a class token or padding mask (CoCa, '
                                          'bidirectional) are not supported')
            pool_type = getattr(src, 'pool_type', 'argmax')
            eos_id = getattr(src, 'eos_id', None)
        proj = getattr(src, 'text_projection', None)
        return cls(src.token_embedding, src.positional_embedding, src.transformer, src.ln_final,
                   proj, getattr(src, 'attn_mask', None), pool_type, eos_id)

    @property
    def num_layers(self) -> int:
        return len(self.transformer.resblocks)

    @property
    def width(self) -> int:
        return self.token_embedding.weight.shape[1]

    @property
    def output_dim(self) -> int:
        proj = self.text_projection
        if proj is None:
            return self.width
        if isinstance(proj, nn.Linear):
            return proj.out_features
        return proj.shape[1]

    @property
    def can_truncate(self) -> bool:
        """True when the pooled token only sees earlier tokens (causal mask)."""
        return self.attn_mask is not None and self.pool_type in _TRUNCATABLE_POOLS

    def cast_dtype(self) -> torch.dtype:
        get = getattr(self.transformer, 'get_cast_dtype', None)
        return get() if get is not None else self.token_embedding.weight.dtype

    def pool_index(self, tokens: torch.Tensor) -> torch.Tensor:
        """Position of the pooled token per prompt: ``(N, L) -> (N,)``."""
        if self.pool_type == 'argmax':  # EOT has the largest id in CLIP's vocabulary
            return tokens.argmax(dim=-1)
        if self.pool_type == 'eos':
            return (tokens == self.eos_id).int().argmax(dim=-1)
        if self.pool_type == 'first':
            return torch.zeros(tokens.shape[0], dtype=torch.long, device=tokens.device)
        if self.pool_type == 'last':
            return torch.full((tokens.shape[0], ), tokens.shape[1] - 1, dtype=torch.long, device=tokens.device)
        raise NotImplementedError(f'text pool type {self.pool_type!r} is not supported')

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token + position embeddings: ``(N, L) -> (N, L, W)``, L <= context length."""
        dtype = self.cast_dtype()
        length = tokens.shape[1]
        return self.token_embedding(tokens).to(dtype) + self.positional_embedding[:length].to(dtype)

    def run_blocks(self, x: torch.Tensor, start: int, end: int,
                   after_block: Optional[Sequence[Optional[Callable]]] = None) -> torch.Tensor:
        """Run resblocks ``[start, end)`` on ``x`` ``(N, L, W)`` (batch-first in and out).

        ``after_block[i]``, when given and not None, is applied to the output of
        block ``i`` (used for residual adapters).
        """
        if start >= end:
            return x
        length = x.shape[1]
        mask = None if self.attn_mask is None else self.attn_mask[:length, :length].to(x.dtype)
        if not self.batch_first:
            x = x.transpose(0, 1)
        for i in range(start, end):
            x = self.transformer.resblocks[i](x, attn_mask=mask)
            if after_block is not None and after_block[i] is not None:
                x = after_block[i](x)
        if not self.batch_first:
            x = x.transpose(0, 1)
        return x

    def can_run_pooled(self, i: int) -> bool:
        """True when block ``i`` is open_clip's plain ``ResidualAttentionBlock`` layout, which
        :meth:`run_block_pooled` reproduces."""
        blk = self.transformer.resblocks[i]
        return (self.attn_mask is not None and self.pool_type in _TRUNCATABLE_POOLS
                and isinstance(getattr(blk, 'attn', None), nn.MultiheadAttention)
                and not hasattr(blk, 'ln_1_kv')
                and all(hasattr(blk, n) for n in ('ln_1', 'ls_1', 'ln_2', 'mlp', 'ls_2')))

    def run_block_pooled(self, x: torch.Tensor, index: torch.Tensor, i: int,
                         after: Optional[Callable] = None) -> torch.Tensor:
        """Block ``i`` (then ``after``) for the pooled token only: ``x (N, L, W)``, ``index (N,)`` -> ``(N, 1, W)``.

        Exact for the last block under the causal mask: the pooled token attends to the keys up to its own
        position, and nothing after the last block reads the other tokens, so their queries, attention
        outputs and MLPs (about 80% of the block's work) are skipped. Check :meth:`can_run_pooled` first.
        """
        blk = self.transformer.resblocks[i]
        rows = torch.arange(x.shape[0], device=x.device)
        h = blk.ln_1(x)
        q = h[rows, index][:, None]  # (N, 1, W)
        # The causal mask's row of the pooled position: keys after it are masked.
        hide = torch.arange(x.shape[1], device=x.device)[None] > index[:, None]  # (N, L)
        if blk.attn.batch_first:
            a = blk.attn(q, h, h, need_weights=False, key_padding_mask=hide)[0]
        else:
            a = blk.attn(q.transpose(0, 1), h.transpose(0, 1), h.transpose(0, 1), need_weights=False,
                         key_padding_mask=hide)[0].transpose(0, 1)
        y = x[rows, index][:, None] + blk.ls_1(a)
        y = y + blk.ls_2(blk.mlp(blk.ln_2(y)))
        return after(y) if after is not None else y

    def pool_project(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Final LayerNorm + pooling + projection: ``(N, L, W), (N,) -> (N, D)``."""
        # LayerNorm is per token, so normalising only the pooled token is exact.
        pooled = self.ln_final(x[torch.arange(x.shape[0], device=x.device), index])
        proj = self.text_projection
        if proj is None:
            return pooled
        if isinstance(proj, nn.Module):
            return proj(pooled)
        return pooled @ proj

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Unnormalised text features for full-length tokens: ``(N, L) -> (N, D)``."""
        x = self.run_blocks(self.embed(tokens), 0, self.num_layers)
        return self.pool_project(x, self.pool_index(tokens))
