"""Model lookup is offline first (issue 12): with the hub off or unreachable, a model that is
not cached fails at once with the usual message, without the hub client's retries."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from annotator.errors import ModelNotFoundError
from annotator.prelabel import loading
from tests.netutil import free_port


def counting(loader):
    calls = []

    def wrapped(name):
        calls.append(name)
        return loader(name)

    return wrapped, calls


def real_loader(name):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(name)


@pytest.mark.parametrize("env", ["offline", "closed_port"])
def test_uncached_hub_model_fails_without_asking_the_hub(monkeypatch, env):
    if env == "offline":
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
        for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY",
                  "http_proxy"):
            monkeypatch.delenv(k, raising=False)
    loader, calls = counting(real_loader)
    with pytest.raises(ModelNotFoundError) as err:
        loading.load_model("nobody-here/no-such-model", "token-classification", loader)
    assert calls == []  # no request, hence no retries
    assert "'nobody-here/no-such-model' not found" in str(err.value)
    assert "offline" in str(err.value)


def test_probe_sees_a_listening_endpoint_and_a_closed_one():
    import socket

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        assert loading.hub_reachable(f"http://127.0.0.1:{port}")
    assert not loading.hub_reachable(f"http://127.0.0.1:{free_port()}")


def _cli_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
           and not k.lower().endswith("_proxy")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{free_port()}", HF_HOME=str(tmp_path / "hf"),
               **extra)
    return env


def test_cli_prelabel_with_unreachable_hub_is_one_clear_line(tmp_path):
    from annotator.model import Document
    from db import Store

    db = str(tmp_path / "p.sqlite")
    with Store(db) as st:
        st.import_documents([Document(text="Toux sèche.", name="a")])
    r = subprocess.run([sys.executable, "-m", "annotator", "--db", db, "prelabel",
                        "--backend", "transformers", "--model", "nobody-here/no-such-model"],
                       capture_output=True, text=True, env=_cli_env(tmp_path), timeout=300)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "not found" in err[0]


def test_cached_model_loads_from_the_cache_with_the_hub_unreachable(tmp_path):
    """A hub id in the local cache is loaded from there (no request)."""
    snap = (tmp_path / "hf" / "hub" / "models--acme--tiny-config" / "snapshots" / "abc123")
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("abc123")
    code = ("from annotator.prelabel.loading import load_model\n"
            "from transformers import AutoConfig\n"
            "seen = []\n"
            "def loader(p):\n"
            "    seen.append(p)\n"
            "    return AutoConfig.from_pretrained(p)\n"
            "cfg = load_model('acme/tiny-config', 'token-classification', loader)\n"
            "print(cfg.hidden_size, len(seen), seen[0].endswith('abc123'))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_cli_env(tmp_path), timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["8", "1", "True"]
