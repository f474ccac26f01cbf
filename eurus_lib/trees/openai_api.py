"""A minimal client for OpenAI-compatible chat endpoints (vLLM, llama.cpp server, TGI, OpenAI itself).

    texts = chat("http://localhost:8000/v1", "Qwen2.5-7B-Instruct",
                 [{"role": "user", "content": "2 + 2?"}], n=2, temperature=0.7, max_tokens=64)

Plain urllib and json, so a larger run can use a served actor or critic with no extra package.
Specs in the config read `openai:<base url>#<model name>`; the key, if the server wants one,
comes from the environment variable OPENAI_API_KEY.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from ..errors import KitError


def parse_spec(spec: str) -> tuple[str, str]:
    """'openai:http://host:8000/v1#my-model' -> ('http://host:8000/v1', 'my-model')."""
    body = spec.split(":", 1)[1] if spec.startswith("openai:") else spec
    url, _, model = body.partition("#")
    if not url.startswith(("http://", "https://")):
        raise KitError(f"'{spec}' is not an endpoint spec; write openai:http://host:port/v1#model-name.")
    return url.rstrip("/"), model or "default"


def chat(base_url: str, model: str, messages: list[dict], *, n: int = 1, temperature: float = 0.7,
         top_p: float = 1.0, max_tokens: int = 256, timeout_s: float = 120.0) -> list[str]:
    """POST {base_url}/chat/completions and return the `n` reply texts."""
    body = {"model": model, "messages": messages, "n": n, "temperature": temperature, "top_p": top_p,
            "max_tokens": max_tokens}
    headers = {"Content-Type": "application/json"}
    if os.environ.get("OPENAI_API_KEY"):
        headers["Authorization"] = f"Bearer {os.environ['OPENAI_API_KEY']}"
    request = urllib.request.Request(f"{base_url}/chat/completions", data=json.dumps(body).encode(),
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            data = json.loads(response.read().decode())
    except urllib.error.HTTPError as exc:
        raise KitError(f"The endpoint {base_url} answered HTTP {exc.code} ({exc.read()[:200]!r}); "
                       "check the model name and the key in OPENAI_API_KEY.") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise KitError(f"Could not reach the endpoint {base_url} ({getattr(exc, 'reason', exc)}); "
                       "is the server running?") from exc
    except json.JSONDecodeError as exc:
        raise KitError(f"The endpoint {base_url} did not answer with JSON; is it OpenAI-compatible?") from exc
    try:
        return [choice["message"]["content"] or "" for choice in data["choices"]]
    except (KeyError, TypeError) as exc:
        raise KitError(f"The endpoint {base_url} answered without choices[].message.content.") from exc
