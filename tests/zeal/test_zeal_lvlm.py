"""The LVLM stage through real transformers code: a tiny random LLaVA built from configs, loaded from disk."""
import numpy as np
import pytest
import torch

pytest.importorskip('transformers')

from zeetad.zeal.confidence_store import ConfidenceStore  # noqa: E402
from zeetad.zeal.lvlm_scorer import YesNoScorer, answer_token_ids  # noqa: E402
from zeetad.zeal.lvlm_stage import LVLMJob, run_lvlm_stage, score_video, video_questions  # noqa: E402
from zeetad.zeal.queries import template_queries  # noqa: E402
from zeal_test_utils import one_torch_thread, tiny_lvlm_dir  # noqa: E402,F401  (fixtures)


@pytest.fixture(scope='module')
def scorer(tiny_lvlm_dir):
    return YesNoScorer.from_pretrained(tiny_lvlm_dir, device='cpu', batch_size=4)


def frames(n, seed=0, size=(24, 40)):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size + (3,), dtype=np.uint8) for _ in range(n)]


def test_answer_tokens_come_from_the_tokenizer(scorer):
    tok = scorer.processor.tokenizer
    assert scorer.yes_ids == sorted(tok.convert_tokens_to_ids(['yes', 'Yes', 'YES']))
    assert scorer.no_ids == sorted(tok.convert_tokens_to_ids(['no', 'No', 'NO']))
    assert answer_token_ids(tok, ['maybe']) == []  # unknown words map to <unk>, which never counts
    with pytest.raises(ValueError, match='single-token'):
        YesNoScorer(scorer.model, scorer.processor, yes_words=['maybe'])


def test_p_yes_is_the_two_way_softmax_of_the_first_generated_token(scorer):
    frame = frames(1)[0]
    text = scorer.text_for('throw', 'Is the person just starting to throw?')
    assert text.startswith('USER: <image>\nThis is a frame from a video of throw.\nIs the person')
    assert text.endswith('ASSISTANT:')
    inputs = scorer.processor(images=[frame], text=[text], return_tensors='pt')
    with torch.no_grad():
        logits = scorer.model(**inputs).logits[0, -1].double()
    yes, no = torch.logsumexp(logits[scorer.yes_ids], 0), torch.logsumexp(logits[scorer.no_ids], 0)
    expected = torch.softmax(torch.stack([yes, no]), 0)[0].item()
    got = scorer.score_pairs([frame], [text])
    assert got.shape == (1,) and got.dtype == np.float32
    assert abs(got[0] - expected) < 1e-5 and 0 < got[0] < 1


def test_batching_and_left_padding_do_not_change_scores(scorer):
    questions = [('throw', 'Is it?'), ('run', 'Has the person just finished doing run and jump and swim?')]
    fr = frames(3, seed=1)
    batched = scorer.score_frames(fr, questions)
    one = YesNoScorer(scorer.model, scorer.processor, batch_size=1).score_frames(fr, questions)
    assert batched.shape == (3, 2)
    np.testing.assert_allclose(batched, one, atol=2e-5)
    assert np.ptp(batched) > 0  # different frames and questions give different answers


def test_score_video_layout(scorer):
    queries = template_queries(['Throw', 'Run'])
    fr = frames(5, seed=2)
    out = score_video(scorer, ((float(i), f) for i, f in enumerate(fr)), ['Throw', 'Run'], queries, chunk_frames=2)
    assert out.shape == (5, 2, 2)
    direct = scorer.score_frames(fr, video_questions(['Throw', 'Run'], queries))
    np.testing.assert_allclose(out.reshape(5, 4), direct, atol=2e-5)
    with pytest.raises(KeyError, match='Swim'):
        video_questions(['Swim'], queries)


def test_run_stage_caches_resumes_and_reports_failures(scorer, tmp_path):
    queries = template_queries(['Throw', 'Run'])
    calls = []

    def loader(path, fps):
        calls.append(path)
        if path == 'broken.mp4':
            raise RuntimeError('cannot decode')
        return ((i / fps, f) for i, f in enumerate(frames(4, seed=len(path))))

    jobs = [LVLMJob('a', 'a.mp4', ('Throw',)), LVLMJob('b', 'bb.mp4', ('Run', 'Throw')),
            LVLMJob('c', 'broken.mp4', ('Run',))]
    path = str(tmp_path / 'conf.h5')
    with ConfidenceStore(path, mode='a') as store:
        report = run_lvlm_stage(jobs, scorer, queries, store, fps=2.0, frame_loader=loader, progress=False,
                                run_attrs=dict(lvlm='tiny', yes_ids=scorer.yes_ids))
    assert report.done == ['a', 'b'] and 'cannot decode' in report.failed['c'] and report.frames == 8
    with ConfidenceStore(path) as store:
        b = store.load('b')
        assert b.classes == ('Run', 'Throw') and b.scores.shape == (4, 2, 2) and b.sample_fps == 2.0
        np.testing.assert_allclose(b.frame_times(), [0, 0.5, 1.0, 1.5])
        assert store.attrs()['lvlm'] == 'tiny' and store.videos() == ['a', 'b']
    with ConfidenceStore(path, mode='a') as store:
        again = run_lvlm_stage(jobs[:2], scorer, queries, store, frame_loader=loader, progress=False)
    assert again.skipped == ['a', 'b'] and calls.count('a.mp4') == 1


def write_video(path, seconds=3.0, fps=10, size=(48, 64)):
    import av
    with av.open(str(path), 'w') as container:
        stream = container.add_stream('mpeg4', rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[1], size[0], 'yuv420p'
        for i in range(int(seconds * fps)):
            img = np.zeros(size + (3,), np.uint8)
            img[:, :, i % 3] = 40 + 6 * i
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format='rgb24')):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_end_to_end_on_a_decoded_video(scorer, tmp_path):
    pytest.importorskip('av')
    try:
        import zeetad.video.decode  # noqa: F401
    except ImportError:
        pytest.skip('zeetad.video.decode (the shared PyAV decoding module) is not in this checkout')
    video = tmp_path / 'clip.mp4'
    write_video(video)
    path = str(tmp_path / 'conf.h5')
    with ConfidenceStore(path, mode='a') as store:
        report = run_lvlm_stage([LVLMJob('clip', str(video), ('Throw',))], scorer, template_queries(['Throw']),
                                store, fps=1.0, progress=False)
    assert report.done == ['clip'] and report.frames == 3, report.failed
    conf = ConfidenceStore(path).load('clip')
    assert conf.scores.shape == (3, 1, 2) and ((conf.scores > 0) & (conf.scores < 1)).all()
