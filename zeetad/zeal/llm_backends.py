"""Chat backends for ZEAL's query generation: an OpenAI-compatible HTTP endpoint or a local HF causal LM.

Both expose ``complete(messages) -> str``. The HTTP backend speaks the
chat-completions protocol (OpenAI, vLLM, Ollama, llama.cpp servers) with the
standard library only. The API key is read from the config or an environment
variable, sent only in the ``Authorization`` header, and never appears in a
repr, a log line or an error message.
"""
from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from typing import Any, Optional, Sequence

RETRY_STATUS = (408, 409, 425, 429, 500, 502, 503, 504)


class LLMRequestError(RuntimeError):
    """A request that failed for good (after retries, or a non-retryable error)."""


class OpenAIChatBackend:
    """Client of ``POST {base_url}/chat/completions``.

    Args:
        base_url: e.g. ``https://api.openai.com/v1``, ``http://localhost:8000/v1`` (vLLM) or
            ``http://localhost:11434/v1`` (Ollama); default: ``$OPENAI_BASE_URL``.
        model: model name the server knows; default: ``$ZEAL_LLM_MODEL``.
        api_key: the key itself (prefer ``api_key_env``); local servers usually need none.
        api_key_env: environment variable holding the key.
        timeout: seconds per request.
        max_retries: extra attempts after timeouts, connection errors and 408/429/5xx answers.
        backoff_s: first retry delay, doubled each time.
        json_mode: ask for ``response_format={"type": "json_object"}``.
        temperature, max_tokens, seed: sampling settings sent with each request.
    """

    def __init__(self, base_url: Optional[str] = None, model: Optional[str] = None, api_key: Optional[str] = None,
                 api_key_env: str = 'OPENAI_API_KEY', timeout: float = 60.0, max_retries: int = 3,
                 backoff_s: float = 1.0, json_mode: bool = True, temperature: float = 0.0,
                 max_tokens: int = 1024, seed: Optional[int] = 0):
        base_url = base_url or os.environ.get('OPENAI_BASE_URL')
        model = model or os.environ.get('ZEAL_LLM_MODEL')
        if not base_url:
            raise ValueError('no LLM endpoint: pass base_url or set OPENAI_BASE_URL')
        if not model:
            raise ValueError('no LLM model name: pass model or set ZEAL_LLM_MODEL')
        self.base_url, self.model = base_url.rstrip('/'), model
        self._api_key = api_key if api_key is not None else os.environ.get(api_key_env) if api_key_env else None
        self.timeout, self.max_retries, self.backoff_s = float(timeout), int(max_retries), float(backoff_s)
        self.json_mode, self.temperature, self.max_tokens, self.seed = json_mode, temperature, max_tokens, seed

    @property
    def name(self) -> str:
        return f'openai-compatible {self.model} at {self.base_url}'

    def __repr__(self) -> str:
        key = 'set' if self._api_key else 'none'
        return f'OpenAIChatBackend(base_url={self.base_url!r}, model={self.model!r}, api_key=<{key}>)'

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, '<redacted>') if self._api_key else text

    def _request(self, messages: Sequence[dict]) -> urllib.request.Request:
        body: dict[str, Any] = {'model': self.model, 'messages': list(messages), 'temperature': self.temperature,
                                'max_tokens': self.max_tokens}
        if self.seed is not None:
            body['seed'] = self.seed
        if self.json_mode:
            body['response_format'] = {'type': 'json_object'}
        headers = {'Content-Type': 'application/json', 'Accept': 'application/json'}
        if self._api_key:
            headers['Authorization'] = f'Bearer {self._api_key}'
        return urllib.request.Request(f'{self.base_url}/chat/completions', data=json.dumps(body).encode('utf-8'),
                                      headers=headers, method='POST')

    def complete(self, messages: Sequence[dict]) -> str:
        """Send ``messages``; returns the first choice's message content.

        Raises:
            LLMRequestError: the server could not be reached or kept failing, or answered in a shape that is
                not a chat completion. (An answer whose *content* is malformed is returned as is: validating
                it is the caller's job.)
        """
        last = 'no attempt made'
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                with urllib.request.urlopen(self._request(messages), timeout=self.timeout) as resp:
                    payload = resp.read().decode('utf-8', errors='replace')
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode('utf-8', errors='replace')[:300] if exc.fp else ''
                last = self._redact(f'HTTP {exc.code} {exc.reason}: {detail}')
                if exc.code in RETRY_STATUS:
                    continue
                raise LLMRequestError(f'{self.name}: {last}') from None
            except (socket.timeout, TimeoutError) as exc:
                last = f'timed out after {self.timeout:g} s ({type(exc).__name__})'
                continue
            except (urllib.error.URLError, ConnectionError, OSError) as exc:
                reason = getattr(exc, 'reason', exc)
                if isinstance(reason, (socket.timeout, TimeoutError)):
                    last = f'timed out after {self.timeout:g} s'
                else:
                    last = self._redact(f'cannot reach the server: {reason}')
                continue
            return self._content(payload)
        raise LLMRequestError(f'{self.name}: giving up after {self.max_retries + 1} attempt(s); last error: {last}')

    def _content(self, payload: str) -> str:
        try:
            data = json.loads(payload)
            content = data['choices'][0]['message']['content']
        except (json.JSONDecodeError, KeyError, IndexError, TypeError):
            snippet = self._redact(payload[:200])
            raise LLMRequestError(f'{self.name}: the response is not a chat completion: {snippet!r}') from None
        if not isinstance(content, str):
            raise LLMRequestError(f'{self.name}: the message content is {type(content).__name__}, not text')
        return content


class HFCausalLMBackend:
    """A local Hugging Face causal LM (any ``AutoModelForCausalLM`` folder), greedy decoding.

    Args:
        model_path: local folder (nothing is downloaded: ``local_files_only``).
        device: torch device; dtype: ``'auto'``, ``'bfloat16'``, ``'float16'`` or ``'float32'``.
        max_new_tokens: answer length limit.
    """

    def __init__(self, model_path: str, device: str = 'cpu', dtype: str = 'auto', max_new_tokens: int = 1024):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        if not os.path.isdir(model_path):
            raise FileNotFoundError(f'local LLM folder not found: {model_path}')
        self.model_path, self.device, self.max_new_tokens = model_path, device, int(max_new_tokens)
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        from .lvlm_scorer import _dtype_kwarg
        kwargs = {_dtype_kwarg(): 'auto' if dtype == 'auto' else getattr(torch, dtype)}
        self.model = AutoModelForCausalLM.from_pretrained(model_path, local_files_only=True, **kwargs).to(device).eval()

    @property
    def name(self) -> str:
        return f'local causal LM {self.model_path}'

    def complete(self, messages: Sequence[dict]) -> str:
        import torch
        if getattr(self.tokenizer, 'chat_template', None):
            ids = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, return_tensors='pt',
                                                     return_dict=True)
        else:
            text = '\n\n'.join(m['content'] for m in messages) + '\n\n'
            ids = self.tokenizer(text, return_tensors='pt')
        ids = {k: v.to(self.device) for k, v in ids.items()}
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with torch.no_grad():
            out = self.model.generate(**ids, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=pad)
        return self.tokenizer.decode(out[0, ids['input_ids'].shape[1]:], skip_special_tokens=True)


def build_llm_backend(cfg: dict):
    """``dict(type='openai', ...)`` or ``dict(type='hf', model_path=...)`` -> a backend (``'template'``
    needs none and gives ``None``)."""
    cfg = dict(cfg)
    kind = cfg.pop('type', 'openai')
    if kind == 'openai':
        return OpenAIChatBackend(**cfg)
    if kind == 'hf':
        return HFCausalLMBackend(**cfg)
    if kind == 'template':
        return None
    raise ValueError(f'unknown LLM backend type {kind!r}; expected "openai", "hf" or "template"')
