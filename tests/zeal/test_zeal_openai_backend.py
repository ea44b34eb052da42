"""The OpenAI-compatible chat backend against a local chat-completions server run by the test."""
import json
import logging
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from zeetad.zeal.llm_backends import LLMRequestError, OpenAIChatBackend
from zeetad.zeal.query_generation import generate_queries

KEY = 'sk-test-0123456789-secret'
GOOD = {'start': 'Is the bar leaving the floor?', 'end': 'Is the bar held still overhead?',
        'description': 'A weightlifter lifts a barbell to the shoulders and then overhead.'}


class ChatServer:
    """Speaks POST /v1/chat/completions; each request takes the next scripted action."""

    def __init__(self, actions):
        self.actions, self.requests = list(actions), []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
                server.requests.append({'path': self.path, 'auth': self.headers.get('Authorization'), 'body': body})
                kind, value = server.actions.pop(0) if server.actions else ('status', 500)
                if kind == 'sleep':
                    time.sleep(value)
                    kind, value = 'content', json.dumps({})
                if kind == 'status':
                    echo = f'bad key {self.headers.get("Authorization")}'  # a server that echoes the header
                    payload, code = json.dumps({'error': {'message': echo}}), value
                elif kind == 'raw':
                    payload, code = value, 200
                else:
                    payload, code = json.dumps({'id': 'x', 'object': 'chat.completion', 'model': body['model'],
                                                'choices': [{'index': 0, 'finish_reason': 'stop', 'message': {
                                                    'role': 'assistant', 'content': value}}]}), 200
                data = payload.encode()
                try:
                    self.send_response(code)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}/v1'
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def backend(url, **kw):
    kw.setdefault('api_key', KEY)
    kw.setdefault('backoff_s', 0.01)
    return OpenAIChatBackend(base_url=url, model='tiny-llm', **kw)


def test_request_shape_and_answer():
    with ChatServer([('content', json.dumps({'CleanAndJerk': GOOD}))]) as srv:
        answer = backend(srv.url).complete([{'role': 'user', 'content': 'hi'}])
    assert json.loads(answer) == {'CleanAndJerk': GOOD}
    req = srv.requests[0]
    assert req['path'] == '/v1/chat/completions' and req['auth'] == f'Bearer {KEY}'
    assert req['body']['model'] == 'tiny-llm' and req['body']['response_format'] == {'type': 'json_object'}
    assert req['body']['messages'] == [{'role': 'user', 'content': 'hi'}] and req['body']['temperature'] == 0.0


def test_key_from_env_and_never_shown(monkeypatch):
    monkeypatch.setenv('ZEAL_TEST_KEY', KEY)
    b = OpenAIChatBackend(base_url='http://127.0.0.1:9/v1', model='m', api_key_env='ZEAL_TEST_KEY')
    assert KEY not in repr(b) and 'api_key=<set>' in repr(b)
    with ChatServer([('status', 401)]) as srv:  # the error body echoes the Authorization header
        with pytest.raises(LLMRequestError) as info:
            backend(srv.url).complete([{'role': 'user', 'content': 'x'}])
    assert 'HTTP 401' in str(info.value) and KEY not in str(info.value) and '<redacted>' in str(info.value)
    assert len(srv.requests) == 1  # 401 is not retried


def test_retries_server_errors_then_succeeds():
    with ChatServer([('status', 503), ('status', 500), ('content', 'ok')]) as srv:
        assert backend(srv.url, max_retries=2).complete([{'role': 'user', 'content': 'x'}]) == 'ok'
    assert len(srv.requests) == 3


def test_not_a_chat_completion():
    with ChatServer([('raw', '<html>proxy error</html>')]) as srv:
        with pytest.raises(LLMRequestError, match='not a chat completion'):
            backend(srv.url).complete([{'role': 'user', 'content': 'x'}])


def test_timeout_is_retried_then_reported(caplog):
    with ChatServer([('sleep', 0.8), ('sleep', 0.8)]) as srv:
        with pytest.raises(LLMRequestError, match='timed out') as info:
            backend(srv.url, timeout=0.2, max_retries=1).complete([{'role': 'user', 'content': 'x'}])
    assert 'giving up after 2 attempt(s)' in str(info.value) and len(srv.requests) == 2


def test_generate_queries_over_http_malformed_and_timeout(tmp_path, caplog):
    out = str(tmp_path / 'queries.json')
    actions = [('content', json.dumps({'CleanAndJerk': GOOD})),
               ('content', 'Sorry, as a model I cannot'), ('content', '{"HighJump": {"start": "Is'),  # malformed x2
               ('sleep', 0.8)]  # LongJump: the server hangs past the timeout
    caplog.set_level(logging.DEBUG)
    with ChatServer(actions) as srv:
        report = generate_queries(['CleanAndJerk', 'HighJump', 'LongJump'],
                                  backend(srv.url, timeout=0.3, max_retries=0), out, progress=False)
    assert list(report.queries) == ['CleanAndJerk']
    assert 'not valid JSON' in report.errors['HighJump'] and 'timed out' in report.errors['LongJump']
    assert 'HighJump' in caplog.text and 'LongJump' in caplog.text
    assert KEY not in caplog.text and KEY not in json.dumps(report.errors)
    assert list(json.load(open(out))) == ['CleanAndJerk']


def test_queries_tool_cli(tmp_path, monkeypatch, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'tools' / 'zeal'))
    import zeal_queries
    monkeypatch.setenv('OPENAI_API_KEY', KEY)
    classes = tmp_path / 'classes.txt'
    classes.write_text('CleanAndJerk\nHighJump\n')
    out = tmp_path / 'q.json'
    with ChatServer([('content', json.dumps({'CleanAndJerk': GOOD})), ('content', '[]'), ('content', '[]')]) as srv:
        code = zeal_queries.main([str(classes), '--out', str(out), '--base-url', srv.url, '--model', 'tiny-llm',
                                  '--retries', '0', '--no-progress'])
    printed = capsys.readouterr()
    assert code == 1 and 'HighJump' in printed.out and KEY not in printed.out + printed.err
    assert srv.requests[0]['auth'] == f'Bearer {KEY}'
    assert list(json.loads(out.read_text())) == ['CleanAndJerk']
    assert zeal_queries.main([str(classes), '--out', str(tmp_path / 't.json'), '--backend', 'template',
                              '--no-progress']) == 0
    # The backend and the output path may come from a ZEAL config instead.
    cfg = tmp_path / 'zeal_cfg.py'
    with ChatServer([('content', json.dumps({'CleanAndJerk': GOOD, 'HighJump': GOOD}))]) as srv:
        cfg.write_text(f"queries_llm = dict(type='openai', base_url='{srv.url}', model='cfg-llm', max_retries=0)\n"
                       f"model = dict(queries_file='{tmp_path / 'from_cfg.json'}')\n")
        assert zeal_queries.main([str(classes), '--config', str(cfg), '--classes-per-request', '2',
                                  '--no-progress']) == 0
    assert srv.requests[0]['body']['model'] == 'cfg-llm' and srv.requests[0]['auth'] == f'Bearer {KEY}'
    assert sorted(json.loads((tmp_path / 'from_cfg.json').read_text())) == ['CleanAndJerk', 'HighJump']
