"""ZEAL stage 4 core: P(yes) of a large vision-language model for (frame, yes/no question) pairs.

Any Hugging Face image-text-to-text model with a processor that has a chat
template works (LLaVA, LLaVA-OneVision, Qwen2-VL, Pixtral, ...), loaded from a
local folder. The confidence is the softmax over the "yes" and "no" answers at
the first generated position; "yes" and "no" may each be several tokens of the
model's vocabulary ("yes", "Yes", " yes", ...), so each side's probability mass
is pooled with a log-sum-exp before the two-way softmax.
"""
from __future__ import annotations

import inspect
from typing import Optional, Sequence

import numpy as np
import torch

DEFAULT_PROMPT = 'This is a frame from a video of {action}.\n{question} Only answer yes or no.'
YES_WORDS = ('yes', 'Yes', 'YES')
NO_WORDS = ('no', 'No', 'NO')


def answer_token_ids(tokenizer, words: Sequence[str]) -> list[int]:
    """Vocabulary ids that spell one of ``words`` as a single token, with or without a leading space."""
    unk = getattr(tokenizer, 'unk_token_id', None)
    ids = set()
    for word in words:
        for text in (word, ' ' + word):
            enc = tokenizer.encode(text, add_special_tokens=False)
            if len(enc) == 1 and enc[0] != unk:
                ids.add(int(enc[0]))
    return sorted(ids)


def _dtype_kwarg() -> str:
    """``from_pretrained``'s dtype keyword: ``dtype`` since transformers 4.56, ``torch_dtype`` before."""
    import transformers
    major, minor = (int(x) for x in transformers.__version__.split('.')[:2])
    return 'dtype' if (major, minor) >= (4, 56) else 'torch_dtype'


def _torch_dtype(dtype, device: str):
    if dtype in (None, 'auto'):
        return torch.bfloat16 if str(device).startswith('cuda') else torch.float32
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype


class YesNoScorer:
    """Batched yes/no confidences of an LVLM.

    Args:
        model: an image-text-to-text model (``model(**inputs).logits``: ``(B, L, V)``).
        processor: its processor (images + text -> model inputs) with a chat template.
        batch_size: (frame, question) pairs per forward pass.
        prompt: template with ``{action}`` and ``{question}``.
        yes_words / no_words: spellings of the answers looked up in the tokenizer.
    """

    def __init__(self, model, processor, batch_size: int = 8, prompt: str = DEFAULT_PROMPT,
                 yes_words: Sequence[str] = YES_WORDS, no_words: Sequence[str] = NO_WORDS):
        self.model, self.processor = model.eval(), processor
        self.batch_size, self.prompt = max(1, int(batch_size)), prompt
        tokenizer = getattr(processor, 'tokenizer', processor)
        tokenizer.padding_side = 'left'  # the first generated position is then the last column for every row
        self.yes_ids, self.no_ids = answer_token_ids(tokenizer, yes_words), answer_token_ids(tokenizer, no_words)
        if not self.yes_ids or not self.no_ids:
            raise ValueError(f'the tokenizer has no single-token spelling of {list(yes_words)} or {list(no_words)}')
        if set(self.yes_ids) & set(self.no_ids):
            raise ValueError('a token id spells both yes and no')
        params = inspect.signature(model.forward).parameters
        # Only the last position's logits are needed (saves a (B, L, V) tensor); older releases name it differently.
        self._keep_arg = next((k for k in ('logits_to_keep', 'num_logits_to_keep') if k in params), None)
        self._text_cache: dict = {}

    @classmethod
    def from_pretrained(cls, model_path: str, device: str = 'cpu', dtype: Optional[str] = 'auto',
                        attn_implementation: Optional[str] = None, **kwargs) -> 'YesNoScorer':
        """Load model and processor from a local folder (never downloads). ``dtype='auto'``: bf16 on CUDA,
        fp32 on CPU."""
        import os

        from transformers import AutoModelForImageTextToText, AutoProcessor
        if not os.path.isdir(model_path):
            raise FileNotFoundError(f'LVLM folder not found: {model_path} (a local copy is required)')
        processor = AutoProcessor.from_pretrained(model_path, local_files_only=True)
        extra = {'attn_implementation': attn_implementation} if attn_implementation else {}
        extra[_dtype_kwarg()] = _torch_dtype(dtype, device)
        model = AutoModelForImageTextToText.from_pretrained(model_path, local_files_only=True, **extra)
        return cls(model.to(device), processor, **kwargs)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def text_for(self, action: str, question: str) -> str:
        """The full model input text (chat template applied) for one question about one frame."""
        key = (action, question)
        if key not in self._text_cache:
            prompt = self.prompt.replace('{action}', action).replace('{question}', question)
            messages = [{'role': 'user', 'content': [{'type': 'image'}, {'type': 'text', 'text': prompt}]}]
            if not getattr(self.processor, 'chat_template', None):
                raise ValueError('the LVLM processor has no chat template; save one with the processor')
            self._text_cache[key] = self.processor.apply_chat_template(messages, add_generation_prompt=True,
                                                                       tokenize=False)
        return self._text_cache[key]

    @torch.no_grad()
    def score_pairs(self, frames: Sequence[np.ndarray], texts: Sequence[str]) -> np.ndarray:
        """P(yes) for ``frames[i]`` (``(H, W, 3)`` uint8 RGB) with ``texts[i]`` -> ``(N,)`` float32."""
        if len(frames) != len(texts):
            raise ValueError(f'{len(frames)} frames but {len(texts)} texts')
        out = []
        dtype = next(self.model.parameters()).dtype
        for begin in range(0, len(frames), self.batch_size):
            inputs = self.processor(images=list(frames[begin:begin + self.batch_size]),
                                    text=list(texts[begin:begin + self.batch_size]), return_tensors='pt',
                                    padding=True)
            inputs = {k: (v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device))
                      if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
            if self._keep_arg:
                inputs[self._keep_arg] = 1
            logits = self.model(**inputs).logits[:, -1, :].float()
            yes = torch.logsumexp(logits[:, self.yes_ids], dim=-1)
            no = torch.logsumexp(logits[:, self.no_ids], dim=-1)
            out.append(torch.sigmoid(yes - no).cpu())  # = softmax([yes, no])[0]
        return torch.cat(out).numpy().astype(np.float32) if out else np.zeros(0, np.float32)

    def score_frames(self, frames: Sequence[np.ndarray], questions: Sequence[tuple[str, str]]) -> np.ndarray:
        """Every frame against every ``(action, question)``: ``(F, Q)`` P(yes)."""
        texts = [self.text_for(a, q) for a, q in questions]
        flat_frames = [f for f in frames for _ in texts]
        flat_texts = [t for _ in frames for t in texts]
        return self.score_pairs(flat_frames, flat_texts).reshape(len(frames), len(texts))
