"""Frozen open_clip text tower with optional residual adapters and caching."""
from collections import OrderedDict
from typing import List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from zeetad.registry import MODELS
from .adapters import BottleneckAdapter
from .open_clip_loader import load_open_clip
from .prompts import TemplateSpec, build_prompts
from .text_tower import TextTower


@MODELS.register_module()
class CLIPTextEncoder(nn.Module):
    """Encode class names into L2-normalised CLIP text embeddings ``(K, D)``.

    The open_clip tower is frozen (``requires_grad=False``); the only trainable
    parameters are bottleneck adapters after each of the last
    ``num_adapter_blocks`` transformer blocks (zero-initialised up-projection,
    so a fresh encoder reproduces CLIP's embeddings exactly). The visual tower
    is dropped after loading.

    The state dict holds the whole text tower plus adapters (ViT-B-16: ~63M
    frozen parameters, ~250 MB in fp32 per checkpoint). That keeps checkpoints
    self-contained: they load strictly and evaluate without the original CLIP
    weights or a download.

    Args:
        model_name: open_clip architecture; default: the stem of
            ``model_config_file`` if given, else ``'ViT-B-16'``.
        pretrained: ``None`` (random init, tests only), an open_clip pretrained
            tag such as ``'openai'``, or a local checkpoint path.
        model_config_file: open_clip model-config JSON for custom models.
        num_adapter_blocks: number N of final blocks followed by an adapter.
        adapter_width: adapter bottleneck width r.
        adapter_norm: LayerNorm at the adapter input.
        templates: preset name, one template, or a list (ensemble: mean of the
            normalised per-template embeddings, renormalised).
        name_style: class-name normalisation, see ``normalize_class_name``.
        name_map: optional label -> phrase overrides.
        truncate: drop tokens after the last pooled (EOT) token of the batch;
            exact under the causal mask, and ~4x fewer tokens for short prompts.
        pooled_last_block: run the last block (when adapted, i.e. run every training step) for the pooled
            token only; equal to the full block up to float rounding (see ``TextTower.run_block_pooled``),
            ~2x faster text path, but off by default: demo trainings with it scored lower (docs/text.md).
        cache_size: class lists whose embeddings (and frozen-prefix activations)
            are kept; least recently used entries are evicted.
        cache_dir: download cache for pretrained tags.
    """

    def __init__(self,
                 model_name: Optional[str] = None,
                 pretrained: Optional[str] = None,
                 model_config_file: Optional[str] = None,
                 num_adapter_blocks: int = 0,
                 adapter_width: int = 64,
                 adapter_norm: bool = True,
                 templates: TemplateSpec = 'default',
                 name_style: str = 'auto',
                 name_map: Optional[Mapping[str, str]] = None,
                 truncate: bool = True,
                 pooled_last_block: bool = False,
                 cache_size: int = 8,
                 cache_dir: Optional[str] = None) -> None:
        super().__init__()
        model, tokenizer, self.model_name = load_open_clip(model_name, pretrained, model_config_file, cache_dir)
        self.tower = TextTower.from_open_clip(model)
        del model  # releases the visual tower
        self.tower.requires_grad_(False)
        self.tower.eval()
        self.tokenizer = tokenizer
        self.templates = templates
        self.name_style = name_style
        self.name_map = dict(name_map or {})
        build_prompts(['check'], templates, name_style)  # fail early on bad templates
        self.truncate = truncate and self.tower.can_truncate
        self.pooled_last_block = pooled_last_block
        self.cache_size = int(cache_size)

        num_layers = self.tower.num_layers
        if not 0 <= num_adapter_blocks <= num_layers:
            raise ValueError(f'num_adapter_blocks must be in [0, {num_layers}], got {num_adapter_blocks}')
        self.num_adapter_blocks = num_adapter_blocks
        self.first_adapted = num_layers - num_adapter_blocks
        self.adapters = nn.ModuleList(
            BottleneckAdapter(self.tower.width, adapter_width, adapter_norm) for _ in range(num_adapter_blocks))
        self._embed_cache: 'OrderedDict[Tuple[str, ...], Tuple[tuple, torch.Tensor]]' = OrderedDict()
        self._prefix_cache: 'OrderedDict[Tuple[str, ...], torch.Tensor]' = OrderedDict()

    @property
    def embed_dim(self) -> int:
        """D, the CLIP embedding size."""
        return self.tower.output_dim

    # ---- caching -----------------------------------------------------------
    def clear_cache(self) -> None:
        """Drop cached embeddings and frozen-prefix activations."""
        self._embed_cache.clear()
        self._prefix_cache.clear()

    def train(self, mode: bool = True) -> 'CLIPTextEncoder':
        super().train(mode)
        self.tower.eval()  # frozen: never in training behaviour
        self._embed_cache.clear()  # e.g. EMA weights swapped in around validation
        return self

    def _apply(self, fn, *args, **kwargs):
        self.clear_cache()  # device / dtype changes
        return super()._apply(fn, *args, **kwargs)

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        # Overridden rather than hooked: mmengine's loader calls this directly.
        self.clear_cache()
        super()._load_from_state_dict(*args, **kwargs)

    def _param_state(self) -> tuple:
        # In-place updates (optimizer steps) bump ``_version``; a changed value
        # means cached embeddings are stale even without a train()/eval() call.
        return tuple((p.data_ptr(), p._version) for p in self.parameters() if p.requires_grad)

    def _embeddings_cacheable(self) -> bool:
        return not self.training or not any(p.requires_grad for p in self.parameters())

    def _prefix_frozen(self) -> bool:
        blocks = self.tower.transformer.resblocks[:self.first_adapted]
        embeds = [self.tower.token_embedding.weight, self.tower.positional_embedding]
        return not any(p.requires_grad for p in embeds) and \
            not any(p.requires_grad for p in blocks.parameters())

    @staticmethod
    def _remember(cache: OrderedDict, key, value, size: int) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > size:
            cache.popitem(last=False)

    # ---- encoding ----------------------------------------------------------
    def prompts(self, class_names: Sequence[str]) -> List[List[str]]:
        """T lists of K prompts for ``class_names``."""
        return build_prompts(class_names, self.templates, self.name_style, self.name_map)

    def tokenize(self, prompts: Sequence[str]) -> torch.Tensor:
        """``N`` prompts -> token ids ``(N, context_length)`` on the tower's device."""
        return self.tokenizer(list(prompts)).to(self.tower.token_embedding.weight.device)

    def _prefix(self, key: Tuple[str, ...], tokens: torch.Tensor) -> torch.Tensor:
        """Embeddings + blocks before the first adapted block: ``(N, L, W)``."""
        frozen = self._prefix_frozen()
        if frozen and self.cache_size > 0 and key in self._prefix_cache:
            self._prefix_cache.move_to_end(key)
            return self._prefix_cache[key]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            x = self.tower.run_blocks(self.tower.embed(tokens), 0, self.first_adapted)
        # Worth keeping only while the adapted part trains (otherwise the final
        # embeddings themselves are cached).
        if frozen and self.cache_size > 0 and not self._embeddings_cacheable() and self.first_adapted > 0:
            self._remember(self._prefix_cache, key, x.detach(), self.cache_size)
        return x

    def encode_prompts(self, prompts: Sequence[str]) -> torch.Tensor:
        """L2-normalised embeddings of raw prompts: ``N`` strings -> ``(N, D)``."""
        key = tuple(prompts)
        tokens = self.tokenize(key)
        index = self.tower.pool_index(tokens)
        if self.truncate:
            tokens = tokens[:, :int(index.max()) + 1]
        x = self._prefix(key, tokens)
        hooks = [None] * self.first_adapted + list(self.adapters)
        last = self.tower.num_layers - 1
        if self.pooled_last_block and self.first_adapted <= last and self.tower.can_run_pooled(last):
            x = self.tower.run_blocks(x, self.first_adapted, last, hooks)
            x = self.tower.run_block_pooled(x, index, last, hooks[last])  # (N, 1, W)
            index = torch.zeros_like(index)
        else:
            x = self.tower.run_blocks(x, self.first_adapted, self.tower.num_layers, hooks)
        return F.normalize(self.tower.pool_project(x, index).float(), dim=-1)

    def encode(self, class_names: Sequence[str]) -> torch.Tensor:
        """L2-normalised class embeddings ``(K, D)`` (template ensemble if T > 1).

        Cached per prompt list while nothing in the encoder trains or in eval
        mode. Eval mode means inference: the embeddings then carry no gradient
        (adapters learn only in train mode). Cached tensors are shared between
        calls and must not be modified in place.
        """
        per_template = self.prompts(class_names)
        num_t, num_k = len(per_template), len(per_template[0])
        if num_k == 0:
            return self.tower.token_embedding.weight.new_zeros(0, self.embed_dim)
        key = tuple(p for group in per_template for p in group)
        cacheable = self._embeddings_cacheable() and self.cache_size > 0
        if cacheable and key in self._embed_cache:
            state, emb = self._embed_cache[key]
            if state == self._param_state():
                self._embed_cache.move_to_end(key)
                return emb
        with torch.set_grad_enabled(torch.is_grad_enabled() and not cacheable):
            emb = self.encode_prompts(key).view(num_t, num_k, -1)
            emb = emb[0] if num_t == 1 else F.normalize(emb.mean(dim=0), dim=-1)
        if cacheable:
            self._remember(self._embed_cache, key, (self._param_state(), emb), self.cache_size)
        return emb

    def forward(self, class_names: Sequence[str]) -> torch.Tensor:
        """Alias of :meth:`encode`: ``K`` names -> ``(K, D)``."""
        return self.encode(class_names)

    def extra_repr(self) -> str:
        return (f'model_name={self.model_name!r}, embed_dim={self.embed_dim}, '
                f'num_adapter_blocks={self.num_adapter_blocks}, truncate={self.truncate}')
