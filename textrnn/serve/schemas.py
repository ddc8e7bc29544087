"""The bodies of ``textrnn serve``'s JSON API as pydantic models: each response is the object the CLI prints with
``--json`` (DESIGN.md's contract), each request the command's arguments. Unknown fields are refused (422, naming
the field), so a misspelt setting never passes silently. The caps on sizes are ``Limits`` (``textrnn.serve.app``)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----- requests -----------------------------------------------------------------------------------------------------
class TextsRequest(Strict):
    texts: list[str] = Field(min_length=1, description="Texts to read, one answer per text, in order.")


class PredictRequest(TextsRequest):
    top: int = Field(1, ge=1, le=1000, description="How many labels to rank per text.")


class TagRequest(TextsRequest):
    pass


class GenerateRequest(Strict):
    prompt: str = Field("", description="The text to continue.")
    max_tokens: int = Field(100, ge=0, description="Tokens to generate (capped by the server).")
    temperature: float = Field(1.0, ge=0.0, le=10.0, description="0 = greedy.")
    top_k: int = Field(0, ge=0, description="Sample among the k likeliest tokens (0 = no limit).")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Sample from the smallest set reaching p (nucleus).")
    beam: int = Field(1, ge=1, le=16, description="Beam search width (1 = sampling or greedy).")
    seed: int | None = Field(None, description="Makes sampling repeatable.")


class ScoreRequest(Strict):
    sentences: list[str] = Field(min_length=1, description="Sentences to score; several are ranked best first.")


class CompleteRequest(Strict):
    text: str = Field(description="A sentence with one blank written ___ .")
    candidates: list[str] | None = Field(None, min_length=1, description="Fills to rank; none: the model proposes.")
    top: int = Field(3, ge=1, le=20, description="How many proposed fills to return.")


class RegressRequest(Strict):
    inputs: list[list[list[float]]] = Field(min_length=1, description="Sequences (N, steps, features) in the "
                                                                      "model's own (scaled) units.")


class TranslateRequest(Strict):
    texts: list[str] = Field(min_length=1, description="Sentences to translate, in order (an empty one translates "
                                                       "to an empty sentence).")
    beam: int | None = Field(None, ge=1, le=16, description="Beam size (1 = greedy; none: the run's default).")
    attention: bool = Field(False, description="Also the attention weights and both sides' tokens.")


# ----- responses ----------------------------------------------------------------------------------------------------
class LabelScore(BaseModel):
    label: str
    probability: float


class Prediction(BaseModel):
    text: str
    label: str
    probability: float
    top: list[LabelScore]


class Entity(BaseModel):
    text: str
    type: str
    start: int = Field(description="Character offset of the entity's first character.")
    end: int = Field(description="Character offset just past its last character.")


class Tagged(BaseModel):
    tokens: list[str]
    tags: list[str]
    entities: list[Entity]


class Generated(BaseModel):
    prompt: str
    text: str = Field(description="The continuation (prompt + text reads as one text).")


class TokenScore(BaseModel):
    token: str
    logprob: float


class Scored(BaseModel):
    text: str
    logprob: float
    perplexity: float
    tokens: list[TokenScore]
    unknown: list[str]


class Fill(BaseModel):
    fill: str
    sentence: str
    logprob: float
    probability: float
    unknown: list[str] = []


class Completion(BaseModel):
    text: str
    fills: list[Fill]


class Regressed(BaseModel):
    predictions: list = Field(description="One entry per input sequence, shaped by the model's mode.")


class Translated(BaseModel):
    source: str
    translation: str
    logprob: float = Field(description="Natural log-probability of the translation and its <eos>.")
    source_tokens: list[str] | None = Field(None, description="With attention: the source's tokens.")
    target_tokens: list[str] | None = Field(None, description="With attention: the translation's tokens and <eos>.")
    attention: list[list[float]] | None = Field(None, description="With attention: one row per target token, "
                                                                  "its weights over the source tokens.")


class ModelInfo(BaseModel):
    name: str
    task: str
    capabilities: list[str] = Field(description="The POST routes of this model: /v1/models/{name}/{capability}.")
    labels: list[str] | None
    vocab_size: int | None
    sizes: dict[str, int] = Field(description="The size of each vocabulary and label set (a translator's "
                                              "source_vocab and target_vocab).")
    parameters: int
    tokenizer: dict | None
    settings: dict = Field(description="The task's own settings (a translator's default beam).")
    model: dict
    metrics: dict
    history: bool = Field(description="Whether GET /v1/models/{name}/history has the training curves.")


class Health(BaseModel):
    status: str
    models: list[str]
