"""The ``textrnn`` command: a thin typer app over the Python API (no logic Python users cannot reach).

Heavy libraries (torch, gensim, sentencepiece) load inside the commands, so ``textrnn --help`` starts fast.
Errors print one line and exit non-zero; ``--debug`` shows the traceback. With ``--json`` a command prints one
JSON value on stdout; progress and logs go to stderr.
"""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="textrnn: from raw text to trained recurrent networks (SimpleRNN, LSTM, GRU) and back.")
train_app = typer.Typer(no_args_is_help=True, help="Train on your own corpus: classify, tag or lm.")
app.add_typer(train_app, name="train")

_state = {"debug": False}

Json = Annotated[bool, typer.Option("--json", help="Print one JSON value on stdout.")]
Device = Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps.")]


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False) -> None:
    _state["debug"] = debug


class _Interrupted(Exception):
    """Ctrl-C during training, carried to main(): typer turns a KeyboardInterrupt into a bare exit code."""


@contextlib.contextmanager
def _training():
    """Keep the interrupt's message (where the checkpoint was saved) for main() to print."""
    try:
        yield
    except KeyboardInterrupt as interrupt:
        raise _Interrupted(str(interrupt) or "interrupted") from None


def _emit(value, as_json: bool, text: str | None = None) -> None:
    if as_json:
        print(json.dumps(value, ensure_ascii=False))
    elif text is not None:
        print(text)


def _short(metrics: dict) -> str:
    keep = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) and k not in ("task",)}
    return "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in keep.items())


@app.command("list")
def list_command(as_json: Json = False) -> None:
    """List the recipes and the corpora, one line each."""
    from textrnn.corpus import list_corpora
    from textrnn.recipes import describe, recipe_names

    recipes = [describe(name) for name in recipe_names()]
    corpora = list_corpora()
    if as_json:
        _emit({"recipes": recipes, "corpora": corpora}, True)
        return
    print("recipes:")
    for r in recipes:
        print(f"  {r['name']:<16} {r['task']:<9} {r['description'].splitlines()[0] if r['description'] else ''}")
    print("corpora:")
    for c in corpora:
        print(f"  {c['name']:<16} {c.get('task', ''):<9} {c.get('description', '')}")


@app.command()
def run(
    recipe: Annotated[str, typer.Argument(help="A recipe name (textrnn list) or a path to a .toml recipe.")],
    quick: Annotated[bool, typer.Option("--quick", help="The recipe's seconds-long form.")] = False,
    set_: Annotated[list[str] | None, typer.Option("-s", "--set", help="Override a setting: -s train.epochs=3")] = None,
    out: Annotated[str | None, typer.Option("--out", help="Run directory (default runs/RECIPE).")] = None,
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="Folder holding the corpora (else TEXTRNN_DATA_DIR).")] = None,
    data: Annotated[str | None, typer.Option("--data", help="Your own data file instead of the recipe's corpus.")] = None,
    time_column: Annotated[str | None, typer.Option("--time-column", help="energy: the time column of --data.")] = None,
    value_column: Annotated[str | None, typer.Option("--value-column", help="energy: the value column of --data.")] = None,
    cell: Annotated[str | None, typer.Option("--cell", help="rnn, lstm or gru (shorthand for -s model.cell=...).")] = None,
    device: Device = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from its checkpoint.")] = False,
    init_from: Annotated[str | None, typer.Option(
        "--init-from", help="Go on from a saved run (its tokenizer, vocabulary, model and weights) with this "
                            "recipe's data and a fresh schedule.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output.")] = False,
    as_json: Json = False,
) -> None:
    """Run a recipe: train, evaluate and save a pipeline, and write metrics.json."""
    from textrnn.recipes import run_recipe

    overrides = list(set_ or [])
    if init_from:
        overrides.append(f"init_from={json.dumps(init_from)}")
    if cell:
        overrides.append(f"model.cell={cell}")
    if data:
        overrides.append(f"data.path={json.dumps(data)}")
    if time_column:
        overrides.append(f"drill.time_column={json.dumps(time_column)}")
    if value_column:
        overrides.append(f"drill.value_column={json.dumps(value_column)}")
    with _training():
        metrics = run_recipe(recipe, overrides, quick=quick, out=out, data_dir=data_dir, device=device,
                             resume=resume, quiet=quiet)
    if not metrics:   # a distributed rank other than 0: rank 0 reports
        return
    headline = metrics.get("test") or metrics.get("valid") or {}
    _emit(metrics, as_json, f"{metrics.get('recipe', recipe)}: {_short(headline)}")


@app.command()
def info(run_dir: Annotated[Path, typer.Argument(help="A saved run directory.")], as_json: Json = False) -> None:
    """Show what a saved pipeline is: task, tokenizer, vocabulary, model and its metrics."""
    from textrnn.pipeline import load
    from textrnn.summary import count_parameters

    pipe = load(run_dir)
    total, trainable = count_parameters(pipe.model)
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.exists() else {}
    value = {"run": str(run_dir), "task": pipe.config.task, "recipe": pipe.config.meta.get("recipe"),
             "tokenizer": pipe.tokenizer.config() if pipe.tokenizer else None,
             "vocab_size": len(pipe.vocab) if pipe.vocab else None,
             "labels": pipe.labels.itos if pipe.labels else None, "model": pipe.config.model,
             "parameters": total, "trainable": trainable, "metrics": metrics}
    text = "\n".join(f"{k}: {v if not isinstance(v, list) or len(v) < 12 else v[:12] + ['...']}" for k, v in value.items()
                     if k != "metrics") + (f"\nvalid: {_short(metrics.get('valid', {}))}" if metrics else "")
    _emit(value, as_json, text)


@app.command()
def repair(run_dir: Annotated[Path, typer.Argument(help="A saved run directory.")]) -> None:
    """Finish a save that was cut off while moving its files in (loading reads it as saved but never writes)."""
    from textrnn.pipeline import repair as finish

    print(f"{run_dir}: " + ("finished the interrupted save" if finish(run_dir) else "nothing to repair"))


def _read_texts(texts: list[str] | None, file: Path | None, text_field: str = "text"):
    """Texts from arguments, or streamed from a file (one per line, or JSON lines with a text field)."""
    if texts:
        yield from texts
    if file is not None:
        from textrnn.errors import DataError

        if not file.exists():
            raise DataError(f"{file}: no such file")
        import gzip

        with open(file, "rb") as f:   # the first two bytes only: the file may be bigger than memory
            opener = gzip.open if f.read(2) == b"\x1f\x8b" else open
        with opener(file, "rt", encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                if line.lstrip().startswith("{"):
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as error:
                        raise DataError(f"{file}:{number}: malformed JSON ({error.msg})") from None
                    if text_field not in row:
                        raise DataError(f"{file}:{number}: no {text_field!r} field (has {sorted(row)})")
                    yield str(row[text_field])
                else:
                    yield line


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A saved run directory.")],
    data: Annotated[Path, typer.Option("--data", help="A file in the corpus's format (jsonl, csv, conll, txt).")],
    text_field: Annotated[str, typer.Option("--text-field")] = "text",
    label_field: Annotated[str, typer.Option("--label-field")] = "label",
    device: Device = None,
    as_json: Json = False,
) -> None:
    """Evaluate a saved pipeline on any file in its corpus's format and print the task's metrics."""
    from textrnn.corpus import detect_format, read_examples
    from textrnn.pipeline import load

    pipe = load(run_dir, device=device or "cpu")
    if pipe.config.task == "regress":
        from textrnn.drills import evaluate_saved

        metrics = evaluate_saved(pipe, data)
    else:
        examples = read_examples(data, text_field=text_field, label_field=label_field,
                                 format=detect_format(data, task=pipe.config.task))
        metrics = pipe.evaluate(examples, where=str(data))
    text = _short(metrics)
    if "per_type" in metrics:
        text += "\n" + "\n".join(f"  {t:<6} P {m['precision']:.4f}  R {m['recall']:.4f}  F1 {m['f1']:.4f}  n {m['support']}"
                                 for t, m in metrics["per_type"].items())
    _emit(metrics, as_json, text)


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A saved classifier run directory.")],
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to classify.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="One text per line, or JSON lines with a text field.")] = None,
    text_field: Annotated[str, typer.Option("--text-field")] = "text",
    top: Annotated[int, typer.Option("--top", help="How many labels to show per text.")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 256,
    device: Device = None,
    as_json: Json = False,
) -> None:
    """Labels with probabilities for texts; --file streams a big file in batches (JSON: one line per text)."""
    from textrnn.pipeline import load

    pipe = load(run_dir, device=device or "cpu")
    pipe._require("classify", "predict")
    if not texts and file is None:
        raise typer.BadParameter("give texts or --file")
    stream = _read_texts(texts, file, text_field)
    chunk: list[str] = []
    collected = []
    streaming = file is not None

    def flush():
        for result in pipe.predict(chunk, top=top, batch_size=batch_size):
            if streaming:
                print(json.dumps(result, ensure_ascii=False) if as_json else
                      f"{result['label']}\t{result['probability']:.4f}\t{result['text'][:80]}")
            else:
                collected.append(result)
        chunk.clear()

    for text in stream:
        chunk.append(text)
        if len(chunk) >= batch_size * 4:
            flush()
    if chunk:
        flush()
    if not streaming:
        lines = []
        for r in collected:
            tops = ", ".join(f"{t['label']} {t['probability']:.3f}" for t in r["top"])
            lines.append(f"{r['label']}\t{tops}\t{r['text'][:80]}")
        _emit(collected, as_json, "\n".join(lines))


@app.command()
def tag(
    run_dir: Annotated[Path, typer.Argument(help="A saved tagger run directory.")],
    texts: Annotated[list[str] | None, typer.Argument(help="Sentences to tag.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="One sentence per line.")] = None,
    device: Device = None,
    as_json: Json = False,
) -> None:
    """Tokens with tags and the entity spans (type and character offsets) for plain sentences."""
    from textrnn.pipeline import load

    pipe = load(run_dir, device=device or "cpu")
    pipe._require("tag", "tag")
    items = list(_read_texts(texts, file))
    if not items:
        raise typer.BadParameter("give sentences or --file")
    results = pipe.tag(items)
    lines = []
    for r in results:
        lines.append(" ".join(f"{t}/{g}" for t, g in zip(r["tokens"], r["tags"], strict=True)))
        lines.extend(f"  {e['type']}: {e['text']} [{e['start']}:{e['end']}]" for e in r["entities"])
    _emit(results, as_json, "\n".join(lines))


@app.command()
def generate(
    run_dir: Annotated[Path, typer.Argument(help="A saved language-model run directory.")],
    prompt: Annotated[str, typer.Argument(help="Text to continue.")] = "",
    max_tokens: Annotated[int, typer.Option("--max-tokens")] = 100,
    temperature: Annotated[float, typer.Option("--temperature", help="0 = greedy.")] = 1.0,
    top_k: Annotated[int, typer.Option("--top-k")] = 0,
    top_p: Annotated[float, typer.Option("--top-p")] = 1.0,
    beam: Annotated[int, typer.Option("--beam")] = 1,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    interactive: Annotated[bool, typer.Option("--interactive", "-i", help="A prompt loop (:help for commands).")] = False,
    device: Device = None,
    as_json: Json = False,
) -> None:
    """Continue a prompt with a language model (greedy, sampling or beam search)."""
    from textrnn.pipeline import load

    pipe = load(run_dir, device=device or "cpu")
    pipe._require("lm", "generate")
    if interactive:
        from textrnn.generate import GenerationConfig
        from textrnn.interactive import run_interactive

        settings = GenerationConfig(max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                                    beam=beam, seed=seed)

        def continue_text(text, s):
            return pipe.generate(text, max_tokens=s.max_tokens, temperature=s.temperature, top_k=s.top_k,
                                 top_p=s.top_p, beam=s.beam, seed=s.seed)

        raise typer.Exit(run_interactive(continue_text, settings))
    text = pipe.generate(prompt, max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                         beam=beam, seed=seed)
    _emit({"prompt": prompt, "text": text}, as_json, prompt + text)


@app.command()
def score(
    run_dir: Annotated[Path, typer.Argument(help="A saved language-model run directory.")],
    sentences: Annotated[list[str], typer.Argument(help="Sentences to score; several are ranked best first.")],
    device: Device = None,
    as_json: Json = False,
) -> None:
    """Log-probability and perplexity of sentences; with several, rank them."""
    from textrnn.generate import rank
    from textrnn.pipeline import load

    pipe = load(run_dir, device=device or "cpu")
    results = pipe.score(sentences)
    if len(results) > 1:
        results = rank(results)
    lines = [f"{r['logprob']:10.3f}  ppl {r['perplexity']:9.2f}  {r['text']}"
             + (f"  (unknown: {', '.join(r['unknown'])})" if r["unknown"] else "") for r in results]
    _emit(results, as_json, "\n".join(lines))


@app.command()
def complete(
    run_dir: Annotated[Path, typer.Argument(help="A saved language-model run directory.")],
    text: Annotated[str, typer.Argument(help="A sentence with one blank written ___ .")],
    candidates: Annotated[str | None, typer.Option("--candidates", help="Comma-separated fills to rank.")] = None,
    top: Annotated[int, typer.Option("--top")] = 3,
    device: Device = None,
    as_json: Json = False,
) -> None:
    """Fill the blank (___) in a sentence: rank --candidates, or propose the top fills."""
    from textrnn.pipeline import load

    pipe = load(run_dir, device=device or "cpu")
    options = [c.strip() for c in candidates.split(",") if c.strip()] if candidates else None
    result = pipe.complete(text, candidates=options, top=top)
    lines = [f"{f['probability']:.3f}  {f['fill']}  ->  {f['sentence']}" for f in result["fills"]]
    _emit(result, as_json, "\n".join(lines))


def _train(task: str, data: Path, valid: Path | None, text_field: str, label_field: str, tokenizer: str,
           embedding: str, cell: str, out: Path, set_: list[str] | None, device: str | None, resume: bool,
           quiet: bool, as_json: bool, init_from: Path | None = None) -> None:
    from textrnn.custom import train_custom

    with _training():
        metrics = train_custom(task, data, valid=valid, text_field=text_field, label_field=label_field,
                               tokenizer=tokenizer, embedding=embedding, cell=cell, out=out,
                               overrides=list(set_ or []), device=device, resume=resume, quiet=quiet,
                               init_from=init_from)
    if not metrics:   # a distributed rank other than 0: rank 0 reports
        return
    _emit(metrics, as_json, f"{task}: {_short(metrics['valid'])}\nsaved to {out}")


def _train_command(task: str, default_tokenizer: str):
    def command(
        data: Annotated[Path, typer.Option("--data", help="Train file: jsonl, csv/tsv, txt or CoNLL columns.")],
        valid: Annotated[Path | None, typer.Option("--valid", help="Validation file (else a seeded slice of train).")] = None,
        text_field: Annotated[str, typer.Option("--text-field")] = "text",
        label_field: Annotated[str, typer.Option("--label-field")] = "label",
        tokenizer: Annotated[str, typer.Option("--tokenizer", help="word, char or sentencepiece.")] = default_tokenizer,
        embedding: Annotated[str, typer.Option("--embedding", help="learned, onehot or word2vec.")] = "learned",
        cell: Annotated[str, typer.Option("--cell", help="rnn, lstm or gru.")] = "lstm",
        out: Annotated[Path, typer.Option("--out", help="Run directory.")] = Path(f"runs/{task}"),
        set_: Annotated[list[str] | None, typer.Option("-s", "--set", help="Override a setting: -s train.epochs=3")] = None,
        device: Device = None,
        resume: Annotated[bool, typer.Option("--resume")] = False,
        quiet: Annotated[bool, typer.Option("--quiet")] = False,
        init_from: Annotated[Path | None, typer.Option(
            "--init-from", help="Go on from a saved run of this task (fine-tune): its tokenizer, vocabulary, "
                                "model and weights.")] = None,
        as_json: Json = False,
    ) -> None:
        _train(task, data, valid, text_field, label_field, tokenizer, embedding, cell, out, set_, device, resume,
               quiet, as_json, init_from)

    command.__doc__ = {"classify": "Train a text classifier on your own labelled texts.",
                       "tag": "Train a tagger on your own CoNLL or JSON-lines tagged sentences.",
                       "lm": "Train a language model on your own text."}[task]
    return command


for _task, _tokenizer in (("classify", "word"), ("tag", "word"), ("lm", "word")):
    train_app.command(_task)(_train_command(_task, _tokenizer))


def main() -> None:
    """Entry point: run the app; user errors become one line on stderr and a non-zero exit code."""
    try:
        code = app(standalone_mode=False)
    except (KeyboardInterrupt, _Interrupted) as interrupt:
        message = str(interrupt) or "interrupted"
        print(f"textrnn: {message}; continue with --resume", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as error:  # the one place every error is turned into a message and an exit code
        import click

        if _state["debug"]:
            raise
        if isinstance(error, click.exceptions.Exit):
            sys.exit(error.exit_code)
        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        if isinstance(error, click.exceptions.Abort):
            print("textrnn: aborted", file=sys.stderr)
            sys.exit(130)
        from textrnn.errors import TextrnnError

        # input errors, and the machine's (a full disk, a missing folder, no permission): one line, no traceback
        if isinstance(error, (TextrnnError, OSError)):
            print(f"textrnn: error: {error}", file=sys.stderr)
            sys.exit(error.exit_code if isinstance(error, TextrnnError) else 1)
        print(f"textrnn: internal error: {type(error).__name__}: {error} (run with --debug for the traceback)",
              file=sys.stderr)
        sys.exit(1)
    # without standalone mode typer returns the code of an Exit, and of a Ctrl-C outside training (130)
    if isinstance(code, int) and code:
        if code == 130:
            print("textrnn: interrupted", file=sys.stderr)
        sys.exit(code)


if __name__ == "__main__":
    main()
