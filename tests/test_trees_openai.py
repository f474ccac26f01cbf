"""The OpenAI-compatible critic and actor, against a tiny local HTTP server speaking /chat/completions."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from trees_support import WRONG, math_task, run_subprocess

from eurus_lib.errors import KitError
from eurus_lib.trees import CritiqueRequest, Environment, OpenAIActor, make_critic
from eurus_lib.trees.openai_api import chat, parse_spec


class Handler(BaseHTTPRequestHandler):
    requests: list = []
    reply = "Step 2 multiplies where it should add."

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if body["model"] == "broken":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"overloaded")
            return
        data = {"choices": [{"index": i, "message": {"role": "assistant", "content": Handler.reply}}
                            for i in range(body.get("n", 1))]}
        payload = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_chat_posts_an_openai_request_and_reads_the_choices(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    Handler.requests.clear()
    texts = chat(server, "m", [{"role": "user", "content": "hi"}], n=2, temperature=0.5, max_tokens=8)
    assert texts == [Handler.reply] * 2
    [req] = Handler.requests
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert req["body"] == {"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 2,
                           "temperature": 0.5, "top_p": 1.0, "max_tokens": 8}


def test_openai_critic_sees_ground_truth_and_action_and_returns_its_text(server):
    from trees_support import settings

    Handler.requests.clear()
    critic = make_critic(f"openai:{server}#judge-model", settings())
    [outcome] = Environment(run_subprocess).assess([math_task()], [WRONG])
    [text] = critic.critique_many([CritiqueRequest(math_task(), WRONG, outcome)])
    assert text == Handler.reply and critic.fallbacks == 0
    body = Handler.requests[0]["body"]
    user = body["messages"][-1]["content"]
    assert body["model"] == "judge-model" and "Correct answer: 7" in user and WRONG in user and "12" in user
    assert "Do not state the correct final answer" in body["messages"][0]["content"]


def test_openai_actor_samples_one_reply_per_conversation(server):
    actor = OpenAIActor(f"openai:{server}#actor-model", max_new_tokens=32)
    assert actor.sample([[{"role": "user", "content": "a"}]] * 3) == [Handler.reply] * 3
    assert actor.name == "openai:actor-model"


def test_endpoint_errors_are_one_clear_sentence(server):
    with pytest.raises(KitError, match="HTTP 500"):
        chat(server, "broken", [{"role": "user", "content": "x"}])
    with pytest.raises(KitError, match="Could not reach"):
        chat("http://127.0.0.1:9/v1", "m", [{"role": "user", "content": "x"}], timeout_s=2)
    with pytest.raises(KitError, match="not an endpoint spec"):
        parse_spec("openai:localhost:8000")


def test_bad_critic_spec_is_rejected_with_the_choices():
    from trees_support import settings

    with pytest.raises(KitError, match="'rule', 'model:<model spec>'"):
        make_critic("gpt4", settings())
