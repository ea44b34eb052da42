"""The local Hugging Face causal-LM backend, with a tiny random Llama and a tokenizer built here."""
import pytest

pytest.importorskip('transformers')

from zeal_test_utils import one_torch_thread  # noqa: E402,F401  (fixture)


@pytest.fixture(scope='module')
def tiny_llm_dir(tmp_path_factory):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from zeetad.testing.tiny_lvlm import build_word_tokenizer
    tok = build_word_tokenizer()
    tok.chat_template = ("{% for m in messages %}{{ m['role'].upper() }}: {{ m['content'] }}\n{% endfor %}"
                         "{% if add_generation_prompt %}ASSISTANT:{% endif %}")
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('llm') / 'tiny-llama'
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def test_hf_backend_generates_and_bad_answers_are_reported(tiny_llm_dir, tmp_path):
    from zeetad.zeal.llm_backends import HFCausalLMBackend, build_llm_backend
    from zeetad.zeal.query_generation import generate_queries
    backend = build_llm_backend(dict(type='hf', model_path=tiny_llm_dir, max_new_tokens=6))
    assert isinstance(backend, HFCausalLMBackend)
    answer = backend.complete([{'role': 'user', 'content': 'is this a frame ?'}])
    assert isinstance(answer, str) and answer == backend.complete([{'role': 'user', 'content': 'is this a frame ?'}])
    report = generate_queries(['Throw'], backend, str(tmp_path / 'q.json'), attempts_per_class=1, progress=False)
    assert not report.queries and 'not valid JSON' in report.errors['Throw']  # random weights answer nonsense
    with pytest.raises(FileNotFoundError):
        HFCausalLMBackend(str(tmp_path / 'missing'))
