"""``textrnn serve``'s JSON API through FastAPI's TestClient: every route, every error, the caps, concurrent requests,
the page's files, and a real server stopped with Ctrl-C. The runs are tiny, trained here on texts written here."""
from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from conftest import NEGATIVE, POSITIVE
from fastapi.testclient import TestClient

from textrnn.corpus import Example
from textrnn.errors import ConfigError, TextrnnError
from textrnn.pipeline import Pipeline
from textrnn.serve import require_serve_extra
from textrnn.serve.app import CAPABILITIES, Limits, create_app
from textrnn.serve.runs import load_runs, parse_spec
from textrnn.tasks import TASKS, get_task
from textrnn.tasks.regress import Encoded

TINY = {"epochs": 2, "batch_size": 4, "device": "cpu", "threads": 1}
TAGGED = [(["Teddy", "Roosevelt", "visited", "Paris", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
          (["Marie", "Curie", "worked", "in", "Warsaw", "."], ["B-PER", "I-PER", "O", "O", "B-LOC", "O"])]
LINES = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the mat and the log"]
PAIRS = [("ein hund läuft", "a dog runs"), ("eine katze schläft", "a cat sleeps"), ("ein mann liest", "a man reads"),
         ("eine frau singt", "a woman sings")]
LIMITS = Limits(max_body_bytes=4096, max_texts=5, max_text_chars=300, max_tokens=40, max_values=100)


def train(task: str, examples, model: dict, folder, **options):
    pipe = Pipeline.for_task(task, train=examples, model=model, train_config=TINY, quiet=True, **options)
    pipe.fit(examples, examples[:4], run_dir=folder, quiet=True)
    return pipe.save(folder)


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    torch.manual_seed(0)
    reviews = [Example(text=t, label="pos") for t in POSITIVE] + [Example(text=t, label="neg") for t in NEGATIVE]
    dirs = {
        "sentiment": train("classify", reviews, {"hidden_dim": 8, "embedding": {"dim": 8}}, root / "sentiment"),
        "ner": train("tag", [Example(tokens=w, tags=t) for w, t in TAGGED] * 4,
                     {"hidden_dim": 8, "crf": True, "embedding": {"dim": 8}}, root / "ner"),
        "lines": train("lm", [Example(text=t) for t in LINES * 5], {"hidden_dim": 12, "embedding": {"dim": 8}},
                       root / "lines"),
    }
    dirs["de-en"] = train("translate", [Example(text=s, target=t) for s, t in PAIRS * 4],
                          {"hidden_dim": 16, "src_embed_dim": 8, "tgt_embed_dim": 8, "encoder_layers": 1},
                          root / "de-en", tokenizer="word", vocab={"min_freq": 1})
    series = np.random.default_rng(0).normal(size=(8, 3, 1)).astype(np.float32)
    data = Encoded(series, series.sum(axis=1))
    wave = Pipeline.for_task("regress", train=data, model={"input_dim": 1, "hidden_dim": 4, "num_layers": 1},
                             train_config=TINY, quiet=True)
    wave.fit(data, data, quiet=True)              # no run_dir: a run without history.json
    dirs["wave"] = wave.save(root / "wave")
    return dirs


@pytest.fixture(scope="module")
def runs(run_dirs):
    return load_runs([f"{name}={path}" for name, path in run_dirs.items()])


@pytest.fixture(scope="module")
def client(runs):
    with TestClient(create_app(runs, LIMITS)) as test_client:
        yield test_client


def post(client, name: str, capability: str, body) -> tuple[int, object]:
    response = client.post(f"/v1/models/{name}/{capability}", json=body)
    return response.status_code, response.json()


# ----- the routes -------------------------------------------------------------------------------------------------------
def test_health_and_the_model_list(client):
    assert client.get("/healthz").json() == {"status": "ok", "models": ["sentiment", "ner", "lines", "de-en", "wave"]}
    listed = {m["name"]: m for m in client.get("/v1/models").json()}
    assert listed["sentiment"]["task"] == "classify" and listed["sentiment"]["capabilities"] == ["predict"]
    assert sorted(listed["sentiment"]["labels"]) == ["neg", "pos"]
    assert listed["ner"]["capabilities"] == ["tag"] and "B-PER" in listed["ner"]["labels"]
    assert listed["lines"]["capabilities"] == ["generate", "score", "complete"] and listed["lines"]["labels"] is None
    assert listed["wave"]["capabilities"] == ["regress"] and listed["wave"]["vocab_size"] is None
    assert listed["de-en"]["capabilities"] == ["translate"] and listed["de-en"]["vocab_size"] is None
    assert set(listed["de-en"]["sizes"]) == {"source_vocab", "target_vocab"} and listed["de-en"]["settings"]["beam"] == 5
    assert listed["lines"]["vocab_size"] > 4 and listed["lines"]["parameters"] > 0
    assert listed["sentiment"]["history"] is True and listed["wave"]["history"] is False
    assert "path" not in json.dumps(listed["sentiment"]["metrics"])   # requests name models, never paths


def test_the_capability_table_names_each_route_once_and_covers_every_tasks_commands():
    names = [c for tasks in CAPABILITIES.values() for c in tasks]
    assert len(names) == len(set(names)) and set(CAPABILITIES) == set(TASKS)
    for task, capabilities in CAPABILITIES.items():
        assert {c.command for c in capabilities.values()} == set(get_task(task).commands), task


def test_predict_answers_as_the_pipeline(client, runs):
    texts = ["a wonderful film", "a dull film with bad acting"]
    status, answer = post(client, "sentiment", "predict", {"texts": texts, "top": 2})
    assert status == 200
    assert answer == runs["sentiment"].pipe.predict(texts, top=2)
    assert set(answer[0]) == {"text", "label", "probability", "top"}


def test_tag_answers_as_the_pipeline(client, runs):
    texts = ["Teddy Roosevelt visited Paris .", "Marie Curie worked in Warsaw"]
    status, answer = post(client, "ner", "tag", {"texts": texts})
    assert status == 200 and answer == runs["ner"].pipe.tag(texts)
    assert set(answer[0]) == {"tokens", "tags", "entities"}


def test_generate_score_and_complete(client, runs):
    pipe = runs["lines"].pipe
    status, answer = post(client, "lines", "generate", {"prompt": "the cat", "max_tokens": 8, "seed": 3})
    assert status == 200 and answer == {"prompt": "the cat", "text": pipe.generate("the cat", max_tokens=8, seed=3)}
    status, greedy = post(client, "lines", "generate", {"prompt": "the", "max_tokens": 5, "temperature": 0})
    assert greedy["text"] == pipe.generate("the", max_tokens=5, temperature=0)
    status, scored = post(client, "lines", "score", {"sentences": ["the cat sat on the mat", "mat the on sat cat the"]})
    assert status == 200 and scored[0]["logprob"] >= scored[1]["logprob"]
    assert set(scored[0]) == {"text", "logprob", "perplexity", "tokens", "unknown"}
    status, filled = post(client, "lines", "complete", {"text": "the cat sat on the ___", "candidates": ["mat", "dog"]})
    assert status == 200 and {f["fill"] for f in filled["fills"]} == {"mat", "dog"}
    assert abs(sum(f["probability"] for f in filled["fills"]) - 1) < 1e-6
    status, proposed = post(client, "lines", "complete", {"text": "the cat sat on the ___", "top": 2})
    assert status == 200 and 1 <= len(proposed["fills"]) <= 2 and proposed["text"] == "the cat sat on the ___"


def test_regress(client):
    status, answer = post(client, "wave", "regress", {"inputs": [[[0.1], [0.2], [0.3]], [[0.0], [0.5], [1.0]]]})
    assert status == 200 and len(answer["predictions"]) == 2 and len(answer["predictions"][0]) == 1
    status, error = post(client, "wave", "regress", {"inputs": [[[0.1, 0.2]]]})
    assert status == 422 and "1 wide" in error["detail"][0]["msg"] and error["detail"][0]["loc"] == ["body", "inputs"]


def test_translate_answers_as_the_pipeline_with_the_runs_beam_or_the_one_asked(client, runs):
    pipe = runs["de-en"].pipe
    texts = ["ein hund läuft", "eine frau singt", ""]
    status, answer = post(client, "de-en", "translate", {"texts": texts})
    assert status == 200 and answer == pipe.translate(texts)
    assert set(answer[0]) == {"source", "translation", "logprob"} and answer[2] == {"source": "", "translation": "",
                                                                                     "logprob": 0.0}
    status, greedy = post(client, "de-en", "translate", {"texts": texts[:1], "beam": 1})
    assert status == 200 and greedy == pipe.translate(texts[:1], beam=1)


def test_translate_gives_the_attention_when_asked(client, runs):
    status, [answer] = post(client, "de-en", "translate", {"texts": ["ein mann liest"], "attention": True})
    assert status == 200
    assert answer["source_tokens"] == ["ein", "mann", "liest"] and answer["target_tokens"][-1] == "<eos>"
    assert len(answer["attention"]) == len(answer["target_tokens"])
    assert all(len(row) == 3 and abs(sum(row) - 1) < 1e-5 for row in answer["attention"])
    [expected] = runs["de-en"].pipe.translate(["ein mann liest"], attention=True)
    assert answer["translation"] == expected["translation"] and np.allclose(answer["attention"], expected["attention"])


def test_the_history_route(client):
    history = client.get("/v1/models/sentiment/history").json()
    assert len(history["epochs"]) == 2 and "train_loss" in history["epochs"][0]
    missing = client.get("/v1/models/wave/history")
    assert missing.status_code == 404 and "no history.json" in missing.json()["detail"]


# ----- errors -----------------------------------------------------------------------------------------------------------
def test_an_unknown_model_is_a_404_listing_the_names(client):
    status, error = post(client, "imdb", "predict", {"texts": ["x"]})
    assert status == 404 and error["detail"] == ("no model named 'imdb'; the models are: sentiment, ner, lines, "
                                                 "de-en, wave")
    assert client.get("/v1/models/imdb/history").status_code == 404


def test_a_capability_the_task_lacks_is_a_404_naming_its_routes(client):
    status, error = post(client, "sentiment", "generate", {"prompt": "x"})
    assert status == 404 and "a classify model: its routes are predict" in error["detail"]
    status, error = post(client, "lines", "predict", {"texts": ["x"]})
    assert status == 404 and "generate, score, complete" in error["detail"]
    status, error = post(client, "sentiment", "translate", {"texts": ["x"]})
    assert status == 404 and "its routes are predict, not 'translate'" in error["detail"]
    status, error = post(client, "de-en", "predict", {"texts": ["x"]})
    assert status == 404 and "a translate model: its routes are translate" in error["detail"]


@pytest.mark.parametrize("name,capability,body,field", [
    ("sentiment", "predict", {}, "texts"),
    ("sentiment", "predict", {"texts": "one text"}, "texts"),
    ("sentiment", "predict", {"texts": []}, "texts"),
    ("sentiment", "predict", {"texts": ["x"], "top": 0}, "top"),
    ("sentiment", "predict", {"texts": ["x"], "tpo": 2}, "tpo"),
    ("lines", "generate", {"prompt": "x", "top_p": 0}, "top_p"),
    ("lines", "generate", {"prompt": "x", "temperature": "hot"}, "temperature"),
    ("lines", "generate", {"prompt": "x", "max_tokens": 41}, "max_tokens"),
    ("lines", "complete", {"text": "no blank here"}, "text"),
    ("lines", "complete", {"text": "a ___ and a ___"}, "text"),
    ("de-en", "translate", {"texts": ["x"], "beam": 0}, "beam"),
    ("de-en", "translate", {"texts": ["x"], "beam": 17}, "beam"),
    ("de-en", "translate", {"text": "ein hund"}, "text"),
    ("de-en", "translate", {"texts": []}, "texts"),
])
def test_a_bad_body_is_a_422_naming_the_field(client, name, capability, body, field):
    status, error = post(client, name, capability, body)
    assert status == 422, error
    assert any(field in detail["loc"] for detail in error["detail"]), error


def test_invalid_json_is_a_422(client):
    response = client.post("/v1/models/sentiment/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_a_body_over_the_cap_is_a_413_with_the_cap(client):
    response = client.post("/v1/models/sentiment/predict", json={"texts": ["word " * 1000]})
    assert response.status_code == 413 and response.json()["detail"] == "the request body is over the cap of 4,096 bytes"


def test_a_text_over_the_cap_is_a_413_with_the_cap(client):
    status, error = post(client, "sentiment", "predict", {"texts": ["ok", "x" * 301]})
    assert status == 413 and error["detail"] == "texts[1]: 301 characters, over the cap of 300"
    status, error = post(client, "lines", "generate", {"prompt": "x" * 301})
    assert status == 413 and "prompt: 301 characters, over the cap of 300" == error["detail"]
    status, error = post(client, "sentiment", "predict", {"texts": ["a"] * 6})
    assert status == 413 and error["detail"] == "texts: 6 items, over the cap of 5 per request"
    status, error = post(client, "wave", "regress", {"inputs": [[[0.0]] * 101]})
    assert status == 413 and "over the cap of 100" in error["detail"]
    status, error = post(client, "de-en", "translate", {"texts": ["ein hund", "x" * 301]})
    assert status == 413 and error["detail"] == "texts[1]: 301 characters, over the cap of 300"
    status, error = post(client, "de-en", "translate", {"texts": ["ein hund"] * 6})
    assert status == 413 and error["detail"] == "texts: 6 items, over the cap of 5 per request"


# ----- concurrency ------------------------------------------------------------------------------------------------------
def test_concurrent_requests_all_answer_and_do_not_mix_the_lms_state(client):
    seeds = list(range(16))
    expected = {s: post(client, "lines", "generate", {"prompt": "the", "max_tokens": 12, "seed": s})[1]["text"]
                for s in seeds}
    texts = [f"a {'wonderful' if i % 2 else 'dull'} film" for i in range(16)]
    alone = {t: post(client, "sentiment", "predict", {"texts": [t]})[1] for t in texts}
    sources = [s for s, _ in PAIRS]
    translated = {s: post(client, "de-en", "translate", {"texts": [s]})[1] for s in sources}

    def ask(i: int):
        k = (i // 3) % 16
        if i % 3 == 1:
            return "lm", seeds[k], post(client, "lines", "generate", {"prompt": "the", "max_tokens": 12,
                                                                      "seed": seeds[k]})
        if i % 3 == 2:
            source = sources[k % len(sources)]
            return "translate", source, post(client, "de-en", "translate", {"texts": [source]})
        return "classify", texts[k], post(client, "sentiment", "predict", {"texts": [texts[k]]})

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(96)))
    assert all(status == 200 for _, _, (status, _) in answers)
    for kind, key, (_, body) in answers:
        if kind == "lm":
            assert body["text"] == expected[key]
        else:
            assert body == (alone if kind == "classify" else translated)[key]


# ----- the page ---------------------------------------------------------------------------------------------------------
def test_the_page_and_its_files_are_served_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script src="/static/app.js">' in page.text and 'href="/static/style.css"' in page.text
    assert all(f'id="form-{c}"' in page.text for tasks in CAPABILITIES.values() for c in tasks)   # a form per route
    for name in ("app.js", "style.css"):
        served = client.get(f"/static/{name}")
        assert served.status_code == 200 and len(served.text) > 500
        # offline: nothing is fetched from another origin (the one URL is SVG's XML namespace name)
        assert set(re.findall(r"https?://[^\s\"'`)]+", served.text)) <= {"http://www.w3.org/2000/svg"}
    assert not re.findall(r"https?://", page.text)


def test_the_openapi_page_documents_every_route(client):
    schema = client.get("/openapi.json").json()
    for capability in ("predict", "tag", "generate", "score", "complete", "regress", "translate"):
        assert f"/v1/models/{{name}}/{capability}" in schema["paths"]
    assert {"PredictRequest", "Prediction", "GenerateRequest", "Completion", "TranslateRequest", "Translated"} <= \
        set(schema["components"]["schemas"])
    assert client.get("/docs").status_code == 200


# ----- start-up ---------------------------------------------------------------------------------------------------------
def test_runs_are_named_at_start_up(run_dirs):
    assert parse_spec(f"mine={run_dirs['sentiment']}") == ("mine", run_dirs["sentiment"])
    assert parse_spec(f"{run_dirs['ner']}/")[0] == "ner"
    with pytest.raises(ConfigError, match="NAME=PATH"):
        parse_spec("bad name=runs/x")
    with pytest.raises(ConfigError, match="two runs are named 'ner'"):
        load_runs([str(run_dirs["ner"]), f"ner={run_dirs['sentiment']}"])
    with pytest.raises(ConfigError, match="name at least one run"):
        load_runs([])


def test_the_missing_extra_names_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    with pytest.raises(TextrnnError, match=r'needs uvicorn: pip install "textrnn\[serve\]"'):
        require_serve_extra()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.mark.slow
def test_a_real_server_binds_to_loopback_answers_and_stops_cleanly_on_ctrl_c(run_dirs):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "textrnn.cli", "serve", str(run_dirs["sentiment"]),
                                "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", process)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/sentiment/predict",
                                         data=json.dumps({"texts": ["a great film"]}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())[0]["label"] in ("pos", "neg")
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read()
    assert code == 0, stderr
    assert f"serving sentiment (classify) at http://127.0.0.1:{port}/" in stderr and "Traceback" not in stderr
