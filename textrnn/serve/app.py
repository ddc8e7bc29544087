"""The FastAPI application of ``textrnn serve``: one POST route per capability of the loaded runs' tasks, the model
list, a health check, and the web page (``static/``, no CDN).

    GET  /healthz                      {"status": "ok", "models": [names]}
    GET  /v1/models                    each run: task, capabilities, labels, sizes, metrics
    GET  /v1/models/{name}/history     the run's history.json (training curves)
    POST /v1/models/{name}/{capability}  predict | tag | generate | score | complete | regress | translate
    GET  /                             the page;  GET /docs  FastAPI's OpenAPI page

Errors: a body that does not validate is a 422 naming the field (also a setting the model rejects, such as a text
with no blank to complete, and a ``max_tokens`` over the cap); a body or a text over its cap a 413 with the cap;
an unknown model, or a capability its task lacks, a 404 listing what there is. Inference runs in FastAPI's
bounded thread pool, under the run's lock (``runs.LoadedRun``).
"""
# No ``from __future__ import annotations`` here: FastAPI reads the request and response models from the routes'
# annotations at run time, and each route's are set from the capability table below.
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from textrnn.errors import TextrnnError
from textrnn.serve import schemas
from textrnn.serve.runs import LoadedRun

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Limits:
    """What one request may ask. Over a cap: 413 for sizes, 422 for ``max_tokens``."""

    max_body_bytes: int = 1 << 20        # the JSON body
    max_texts: int = 256                 # texts, sentences or candidates in one request
    max_text_chars: int = 20_000         # characters of any one text
    max_tokens: int = 1_000              # tokens one generation may ask for
    max_values: int = 1_000_000          # numbers in one regress request


# ----- the capabilities: task -> capability -> (request, response, handler) -----------------------------------------
@dataclass(frozen=True)
class Capability:
    request: type[BaseModel]
    response: Any                        # a pydantic model, or a list of one
    handler: Callable[[Any, Any], Any]   # (pipeline, request) -> the response's JSON value
    summary: str
    field: str                           # the request field a TextrnnError from the model is about (for the 422)
    command: str                         # the task's command (tasks.TASKS' Task.commands) the handler calls


def _predict(pipe, body: schemas.PredictRequest):
    return pipe.predict(body.texts, top=body.top)


def _tag(pipe, body: schemas.TagRequest):
    return pipe.tag(body.texts)


def _generate(pipe, body: schemas.GenerateRequest):
    text = pipe.generate(body.prompt, max_tokens=body.max_tokens, temperature=body.temperature, top_k=body.top_k,
                         top_p=body.top_p, beam=body.beam, seed=body.seed)
    return {"prompt": body.prompt, "text": text}


def _score(pipe, body: schemas.ScoreRequest):
    from textrnn.tasks.lm.scoring import rank

    results = pipe.score(body.sentences)
    return rank(results) if len(results) > 1 else results


def _complete(pipe, body: schemas.CompleteRequest):
    return pipe.complete(body.text, candidates=body.candidates, top=body.top)


def _regress(pipe, body: schemas.RegressRequest):
    import numpy as np

    widths = {len(step) for sequence in body.inputs for step in sequence} | {0}
    steps = {len(sequence) for sequence in body.inputs}
    expected = pipe.model.config.input_dim
    if widths - {0} != {expected} or len(steps) != 1 or 0 in steps:
        raise TextrnnError(f"inputs must be (sequences, steps, {expected}) numbers: every sequence as long and every "
                           f"step {expected} wide")
    return {"predictions": pipe.predict(np.asarray(body.inputs, dtype=np.float32)).tolist()}


def _translate(pipe, body: schemas.TranslateRequest):
    return pipe.translate(body.texts, beam=body.beam, attention=body.attention)


# every task of the registry (tasks.TASKS) and every command of each has its route (tested)
CAPABILITIES: dict[str, dict[str, Capability]] = {
    "classify": {"predict": Capability(schemas.PredictRequest, list[schemas.Prediction], _predict,
                                       "Labels with probabilities for texts", "texts", "predict")},
    "tag": {"tag": Capability(schemas.TagRequest, list[schemas.Tagged], _tag,
                              "Tokens, tags and entity spans (character offsets) for sentences", "texts", "tag")},
    "lm": {"generate": Capability(schemas.GenerateRequest, schemas.Generated, _generate,
                                  "Continue a prompt (greedy, sampling or beam search)", "prompt", "generate"),
           "score": Capability(schemas.ScoreRequest, list[schemas.Scored], _score,
                               "Log-probability and perplexity of sentences, best first", "sentences", "score"),
           "complete": Capability(schemas.CompleteRequest, schemas.Completion, _complete,
                                  "Fill the blank (___): rank candidates or propose fills", "text", "complete")},
    "regress": {"regress": Capability(schemas.RegressRequest, schemas.Regressed, _regress,
                                      "A regressor's predictions for numeric sequences", "inputs", "predict")},
    "translate": {"translate": Capability(schemas.TranslateRequest, list[schemas.Translated], _translate,
                                          "Translate sentences (greedy or beam search)", "texts", "translate")},
}


# ----- limits ---------------------------------------------------------------------------------------------------------
class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413 before the application sees it (by its
    Content-Length, or while it streams in without one). Bodies under the cap are read here and handed on whole."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":      # the client left: let the application see it
                return await self.app(scope, _replay([message], receive), send)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await self._refuse(send)
            more = message.get("more_body", False)
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    async def _refuse(self, send):
        response = JSONResponse({"detail": f"the request body is over the cap of {self.limit:,} bytes"}, 413)
        await response({"type": "http"}, None, send)


def _replay(messages: list, receive):
    """A receive callable that gives ``messages`` first, then whatever ``receive`` gives."""
    async def replayed():
        return messages.pop(0) if messages else await receive()

    return replayed


def _check_sizes(body: BaseModel, limits: Limits) -> None:
    """413 for too many texts or a text over the cap; 422 for max_tokens over the cap."""
    for name, value in body:
        texts = value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None
        if isinstance(value, str):
            texts = [value]
        if texts is None:
            continue
        if len(texts) > limits.max_texts:
            raise HTTPException(413, f"{name}: {len(texts):,} items, over the cap of {limits.max_texts:,} per request")
        for i, text in enumerate(texts):
            if len(text) > limits.max_text_chars:
                where = name if isinstance(value, str) else f"{name}[{i}]"
                raise HTTPException(413, f"{where}: {len(text):,} characters, over the cap of "
                                         f"{limits.max_text_chars:,}")
    if isinstance(body, schemas.GenerateRequest) and body.max_tokens > limits.max_tokens:
        raise HTTPException(422, [{"loc": ["body", "max_tokens"], "type": "less_than_equal",
                                   "msg": f"max_tokens may be at most {limits.max_tokens} on this server"}])
    if isinstance(body, schemas.RegressRequest):
        values = sum(len(step) for sequence in body.inputs for step in sequence)
        if values > limits.max_values:
            raise HTTPException(413, f"inputs: {values:,} numbers, over the cap of {limits.max_values:,}")


# ----- the application ------------------------------------------------------------------------------------------------
def _capabilities(run: LoadedRun) -> dict[str, Capability]:
    return CAPABILITIES.get(run.pipe.config.task, {})


def _run(runs: dict[str, LoadedRun], name: str) -> LoadedRun:
    if name not in runs:
        raise HTTPException(404, f"no model named {name!r}; the models are: {', '.join(runs)}")
    return runs[name]


def _info(run: LoadedRun) -> dict:
    from textrnn.config import to_dict
    from textrnn.summary import count_parameters
    from textrnn.vocab import LabelVocab, Vocab

    pipe = run.pipe
    sizes = {name: len(part) for name, part in pipe.parts.items() if isinstance(part, (Vocab, LabelVocab))}
    return {"name": run.name, "task": pipe.config.task, "capabilities": list(_capabilities(run)),
            "labels": pipe.labels.itos if pipe.labels is not None else None,
            "vocab_size": len(pipe.vocab) if pipe.vocab is not None else None, "sizes": sizes,
            "parameters": count_parameters(pipe.model)[0],
            "tokenizer": pipe.tokenizer.config() if pipe.tokenizer is not None else None,
            "settings": _finite(to_dict(pipe.settings)) if pipe.settings is not None else {}, "model": pipe.config.model, "metrics": _finite(run.metrics),
            "history": run.history is not None}


def _finite(value):
    """JSON has no NaN or infinity (a metric can be NaN): they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _add_route(app: FastAPI, capability: str, runs: dict[str, LoadedRun], limits: Limits) -> None:
    """``POST /v1/models/{name}/{capability}``, with the request model of the task that has it."""
    (spec,) = {tasks[capability] for tasks in CAPABILITIES.values() if capability in tasks}

    def endpoint(name: str, body):
        run = _run(runs, name)
        offered = _capabilities(run)
        if capability not in offered:
            raise HTTPException(404, f"model {name!r} is a {run.pipe.config.task} model: its routes are "
                                     f"{', '.join(offered) or 'none'}, not {capability!r}")
        _check_sizes(body, limits)
        try:
            with run.lock:
                return jsonable_encoder(offered[capability].handler(run.pipe, body))
        except TextrnnError as error:
            raise HTTPException(422, [{"loc": ["body", spec.field], "type": "value_error", "msg": str(error)}]) from None

    endpoint.__annotations__ = {"name": str, "body": spec.request, "return": spec.response}
    # exclude_none: an answer's optional parts (a translation's attention) are left out unless asked for, so each
    # body is the CLI's --json object
    app.add_api_route(f"/v1/models/{{name}}/{capability}", endpoint, methods=["POST"], response_model=spec.response,
                      response_model_exclude_none=True, summary=spec.summary, name=capability, tags=["models"])


def create_app(runs: dict[str, LoadedRun], limits: Limits | None = None) -> FastAPI:
    """The application serving ``runs`` (name -> LoadedRun) within ``limits``."""
    limits = limits or Limits()
    app = FastAPI(title="textrnn serve", version=__import__("textrnn").__version__,
                  description="Saved textrnn runs over HTTP: the bodies are the CLI's --json objects.")

    @app.get("/healthz", response_model=schemas.Health, tags=["server"])
    def health():
        return {"status": "ok", "models": list(runs)}

    @app.get("/v1/models", response_model=list[schemas.ModelInfo], tags=["models"])
    def models():
        return [_info(run) for run in runs.values()]

    @app.get("/v1/models/{name}/history", tags=["models"], summary="The run's history.json (training curves)")
    def history(name: str):
        run = _run(runs, name)
        if run.history is None:
            raise HTTPException(404, f"model {name!r} has no history.json (its run was not trained by textrnn's loop)")
        return _finite(run.history)

    for capability in dict.fromkeys(c for tasks in CAPABILITIES.values() for c in tasks):
        _add_route(app, capability, runs, limits)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    return app
