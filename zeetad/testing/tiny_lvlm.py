"""Randomly initialised LLaVA-architecture LVLMs saved as local model folders (tests and benchmarks).

No LVLM weights can be downloaded here, so tests build one from a config, save
it with its processor and a word-level tokenizer made on the spot, and load it
back through the same ``from_pretrained(folder)`` path as a real model. The
``'llava-7b'`` size has LLaVA-1.5-7B's shapes (ViT-L/14 at 336 px, a 7B Llama)
for throughput measurements on a GPU; its answers are meaningless.
"""
from __future__ import annotations

import os
from typing import Optional

# Words of ZEAL's prompt, the template questions and the chat template; anything else maps to <unk>.
_WORDS = ('yes no Yes No YES NO this This is a an frame from video of . ? , only Only answer or the person '
          'just starting to do has finished doing doing USER ASSISTANT : start end throw jump run swim').split()

_CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'].upper() }}: {% for c in m['content'] %}"
                  "{% if c['type'] == 'image' %}<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %}\n"
                  "{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}")

SIZES = {
    'tiny': dict(image_size=32, patch_size=8, vision=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                                            num_attention_heads=4),
                 text=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                           num_key_value_heads=2), vocab_size=None),
    'llava-7b': dict(image_size=336, patch_size=14,
                     vision=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                 num_attention_heads=16),
                     text=dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                               num_attention_heads=32, num_key_value_heads=32), vocab_size=32064),
}


def build_word_tokenizer():
    """A word-level fast tokenizer over the prompt vocabulary, with ``<image>`` as a special token."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    specials = ['<pad>', '<unk>', '<s>', '</s>']
    vocab = {w: i for i, w in enumerate(specials + sorted(set(_WORDS)))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token='<unk>'))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tok.add_special_tokens([AddedToken('<image>', special=True, normalized=False)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token='<unk>', pad_token='<pad>', bos_token='<s>',
                                   eos_token='</s>')


def make_tiny_lvlm(out_dir: str, size: str = 'tiny', seed: int = 0, save: bool = True,
                   dtype: Optional[str] = None):
    """Build a random LLaVA model + processor; save both to ``out_dir`` (``save=False``: return them).

    Returns:
        ``out_dir`` when saved, else ``(model, processor)``.
    """
    import torch
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor)
    if size not in SIZES:
        raise ValueError(f'unknown size {size!r}; expected one of {sorted(SIZES)}')
    spec = SIZES[size]
    tokenizer = build_word_tokenizer()
    image_token = tokenizer.convert_tokens_to_ids('<image>')
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(size={'shortest_edge': spec['image_size']},
                                           crop_size={'height': spec['image_size'], 'width': spec['image_size']}),
        tokenizer=tokenizer, patch_size=spec['patch_size'], vision_feature_select_strategy='default',
        chat_template=_CHAT_TEMPLATE, num_additional_image_tokens=1)  # the CLS token the 'default' strategy drops
    vision = CLIPVisionConfig(image_size=spec['image_size'], patch_size=spec['patch_size'], **spec['vision'])
    text = LlamaConfig(vocab_size=spec['vocab_size'] or len(tokenizer), max_position_embeddings=4096,
                       pad_token_id=tokenizer.pad_token_id, **spec['text'])
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_token,
                         vision_feature_select_strategy='default', vision_feature_layer=-2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlavaForConditionalGeneration(config).eval()
    if dtype is not None:
        model = model.to(getattr(torch, dtype))
    if not save:
        return model, processor
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir
