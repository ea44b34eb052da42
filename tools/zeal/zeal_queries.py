#!/usr/bin/env python
"""ZEAL stage 1: write the per-class start/end questions and descriptions (queries.json).

    python tools/zeal/zeal_queries.py CLASSES --out queries.json --backend openai --base-url http://localhost:8000/v1 \
        --model Qwen2.5-7B-Instruct                 # any OpenAI-compatible server (vLLM, Ollama, OpenAI)
    python tools/zeal/zeal_queries.py CLASSES --out queries.json --backend hf --model-path /models/llm
    python tools/zeal/zeal_queries.py CLASSES --out queries.json --backend template   # fixed wording, no LLM
    python tools/zeal/zeal_queries.py CLASSES --config configs/zeal/zeal_thumos14.py  # backend from `queries_llm`,
                                                                                 # output `model.queries_file`

CLASSES is a file with one class name a line, an annotation JSON (every label in it) or a comma-separated
list. The key comes from --api-key-env (default OPENAI_API_KEY) and is never printed. Cached classes are
not asked again (--force to redo); invalid or missing answers are listed per class in OUT.errors.json and
the exit status is 1. The output is meant to be read and edited by hand.
"""
import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def read_classes(spec: str) -> list:
    if os.path.isfile(spec):
        if spec.endswith('.json'):
            from zeetad.datasets.annotations import load_annotations
            return sorted({i.label for r in load_annotations(spec) for i in r.instances})
        with open(spec, encoding='utf-8') as f:
            return [line.strip() for line in f if line.strip() and not line.startswith('#')]
    names = [n.strip() for n in spec.split(',') if n.strip()]
    if not names:
        raise SystemExit(f'no classes in {spec!r}')
    return names


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('classes', help='class list file, annotation JSON, or comma-separated names')
    p.add_argument('--out', help='queries JSON to write (read first, as a cache; default: the config\'s '
                   'model.queries_file)')
    p.add_argument('--config', help='a ZEAL config: its `queries_llm` dict sets the backend (type, base_url, '
                   'model, api_key_env, timeout, max_retries, ...), replacing the backend flags')
    p.add_argument('--backend', choices=['openai', 'hf', 'template'], default='openai')
    p.add_argument('--base-url', help='OpenAI-compatible endpoint (default $OPENAI_BASE_URL)')
    p.add_argument('--model', help='model name on the server (default $ZEAL_LLM_MODEL)')
    p.add_argument('--api-key-env', default='OPENAI_API_KEY', help='environment variable holding the API key')
    p.add_argument('--timeout', type=float, default=60.0, help='seconds per request')
    p.add_argument('--retries', type=int, default=3, help='retries on timeouts, connection errors, 429/5xx')
    p.add_argument('--no-json-mode', action='store_true', help='do not send response_format=json_object')
    p.add_argument('--model-path', help='local causal LM folder for --backend hf')
    p.add_argument('--device', default='cpu')
    p.add_argument('--dtype', default='auto')
    p.add_argument('--classes-per-request', type=int, default=1)
    p.add_argument('--attempts', type=int, default=2, help='requests per class before reporting it as failed')
    p.add_argument('--force', action='store_true', help='ask again for classes already in --out')
    p.add_argument('--no-progress', action='store_true')
    return p.parse_args(argv)


def make_backend(args, cfg=None):
    from zeetad.zeal.llm_backends import HFCausalLMBackend, OpenAIChatBackend, build_llm_backend
    if cfg is not None and cfg.get('queries_llm'):
        llm = dict(cfg.queries_llm)
        return 'template' if llm.get('type') == 'template' else build_llm_backend(llm)
    if args.backend == 'template':
        return 'template'
    if args.backend == 'hf':
        if not args.model_path:
            raise SystemExit('--backend hf needs --model-path')
        return HFCausalLMBackend(args.model_path, device=args.device, dtype=args.dtype)
    return OpenAIChatBackend(base_url=args.base_url, model=args.model, api_key_env=args.api_key_env,
                             timeout=args.timeout, max_retries=args.retries, json_mode=not args.no_json_mode)


def main(argv=None) -> int:
    args = parse_args(argv)
    from zeetad.zeal.query_generation import errors_path, generate_queries
    classes = read_classes(args.classes)
    cfg = None
    if args.config:
        from mmengine.config import Config
        cfg = Config.fromfile(args.config)
        args.out = args.out or cfg.model.queries_file
    if not args.out:
        raise SystemExit('give --out (or --config with model.queries_file)')
    try:
        backend = make_backend(args, cfg)
    except ValueError as exc:
        raise SystemExit(str(exc))
    report = generate_queries(classes, backend, args.out, classes_per_request=args.classes_per_request,
                              attempts_per_class=args.attempts, force=args.force, progress=not args.no_progress)
    print(f'{args.out}: {len(report.queries)}/{len(classes)} classes valid '
          f'({len(report.reused)} reused from the cache)')
    if report.errors:
        print(f'{len(report.errors)} class(es) failed (details in {errors_path(args.out)}):')
        for name, why in sorted(report.errors.items()):
            print(f'  {name}: {why}')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
