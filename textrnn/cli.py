"""The ``textrnn`` command: a thin typer app over the Python API (no logic Python users cannot reach).

Heavy libraries (torch, gensim, sentencepiece) load inside the commands, so ``textrnn --help`` starts fast.
Errors print one line and exit non-zero (usage errors and bad input 2); ``--debug`` shows the traceback. With
``--json`` a command prints one JSON value on stdout (or, streaming a file, one per line); progress and logs go to
stderr.
"""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from textrnn.tasks import TASKS

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="textrnn: from raw text to trained recurrent networks (SimpleRNN, LSTM, GRU) and back.")
train_app = typer.Typer(no_args_is_help=True, help="Train on your own corpus: " +
                        ", ".join(name for name, entry in TASKS.items() if entry.help) + ".")
app.add_typer(train_app, name="train")

_state = {"debug": False}

Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
Device = Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps.")]
Format = Annotated[str, typer.Option("--format", help="auto (by extension), lines, jsonl, csv or tsv.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an earlier run in the --out folder.")]
STREAM_CHUNK = 1024   # texts read from a file are predicted this many at a time


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


def _usage(message: str) -> None:
    from textrnn.errors import ConfigError

    raise ConfigError(message)


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
    overwrite: Overwrite = False,
    init_from: Annotated[str | None, typer.Option(
        "--init-from", help="Go on from a saved run (its tokenizer, vocabulary, model and weights) with this "
                            "recipe's data and a fresh schedule.")] = None,
    log: Annotated[str | None, typer.Option("--log", help="tensorboard: also write TensorBoard scalars.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output.")] = False,
    as_json: Json = False,
) -> None:
    """Run a recipe: train, evaluate and save a pipeline, and write metrics.json."""
    from textrnn.recipes import run_recipe

    overrides = list(set_ or [])
    for flag, setting in ((init_from, "init_from"), (data, "data.path"), (time_column, "drill.time_column"),
                          (value_column, "drill.value_column"), (log, "train.log")):
        if flag:
            overrides.append(f"{setting}={json.dumps(flag)}")
    if cell:
        overrides.append(f"model.cell={cell}")
    with _training():
        metrics = run_recipe(recipe, overrides, quick=quick, out=out, data_dir=data_dir, device=device,
                             resume=resume, overwrite=overwrite, quiet=quiet)
    if not metrics:   # a distributed rank other than 0: rank 0 reports
        return
    headline = metrics.get("test") or metrics.get("valid") or {}
    _emit(metrics, as_json, f"{metrics.get('recipe', recipe)}: {_short(headline)}")


@app.command()
def info(run_dir: Annotated[Path, typer.Argument(help="A saved run directory.")], as_json: Json = False) -> None:
    """Show what a saved pipeline is: task, tokenizer, vocabulary, model and its metrics."""
    from textrnn.pipeline import load
    from textrnn.runfiles import run_files
    from textrnn.summary import count_parameters

    pipe = load(run_dir)
    total, trainable = count_parameters(pipe.model)
    metrics_path = run_files(run_dir)["metrics.json"]
    metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.exists() else {}
    parts = {name: part.config() if hasattr(part, "config") else len(part) for name, part in pipe.parts.items()}
    value = {"run": str(run_dir), "task": pipe.config.task, "recipe": pipe.config.meta.get("recipe"),
             "parts": parts, "labels": pipe.labels.itos if pipe.labels else None, "model": pipe.config.model,
             "parameters": total, "trainable": trainable, "data": pipe.config.meta.get("data"),
             "licenses": pipe.config.meta.get("licenses"), "metrics": metrics}
    text = "\n".join(f"{k}: {v if not isinstance(v, list) or len(v) < 12 else v[:12] + ['...']}" for k, v in value.items()
                     if k != "metrics") + (f"\nvalid: {_short(metrics.get('valid', {}))}" if metrics else "")
    _emit(value, as_json, text)


@app.command()
def repair(run_dir: Annotated[Path, typer.Argument(help="A saved run directory.")]) -> None:
    """Finish a save that was cut off while moving its files in (loading reads it as saved but never writes)."""
    from textrnn.runfiles import repair as finish

    print(f"{run_dir}: " + ("finished the interrupted save" if finish(run_dir) else "nothing to repair"))


def _texts(texts: list[str] | None, file: Path | None, format: str, text_field: str):
    """(where, text) pairs: the arguments, then a file's texts streamed by the corpus readers."""
    from textrnn.corpus import iter_texts

    for number, text in enumerate(texts or [], 1):
        yield f"argument {number}", text
    if file is not None:
        for line, text in iter_texts(file, format=format, text_field=text_field):
            yield f"{file}:{line}", text


def _checked(pairs):
    """The texts of ``pairs``, an empty one refused with where it came from."""
    from textrnn.errors import DataError

    for where, text in pairs:
        if not text.strip():
            raise DataError(f"{where}: the text is empty; give text to work on")
        yield text


def _chunks(items, size: int = STREAM_CHUNK):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A saved run directory.")],
    data: Annotated[Path | None, typer.Option("--data", help="A file in the corpus's format (jsonl, csv, conll, "
                                                             "txt; a translator's: a TSV of pairs).")] = None,
    source: Annotated[Path | None, typer.Option("--source", help="translate: the source side, a line file.")] = None,
    target: Annotated[Path | None, typer.Option("--target", help="translate: the target side, aligned to --source.")] = None,
    format: Format = "auto",
    text_field: Annotated[str | None, typer.Option("--text-field", help="Default: the run's own.")] = None,
    label_field: Annotated[str | None, typer.Option("--label-field", help="Default: the run's own.")] = None,
    device: Device = None,
    as_json: Json = False,
) -> None:
    """Evaluate a saved pipeline on any file in its corpus's format and print the task's metrics."""
    from textrnn.pipeline import load

    if (data is None) == (source is None) or (source is None) != (target is None):
        _usage("evaluate needs --data FILE, or --source FILE with --target FILE (a translator's aligned line files)")
    pipe = load(run_dir, device=device or "cpu")
    metrics = pipe.evaluate_file(data or source, format=format, text_field=text_field, label_field=label_field,
                                 target=target)
    text = _short(metrics)
    if "per_type" in metrics:
        text += "\n" + "\n".join(f"  {t:<6} P {m['precision']:.4f}  R {m['recall']:.4f}  F1 {m['f1']:.4f}  n {m['support']}"
                                 for t, m in metrics["per_type"].items())
    _emit(metrics, as_json, text)


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A saved classifier run directory.")],
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to classify.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="A file of texts: lines, JSON lines, CSV or TSV.")] = None,
    format: Format = "auto",
    text_field: Annotated[str | None, typer.Option("--text-field", help="Default: the run's own.")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many labels to show per text.")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 256,
    device: Device = None,
    as_json: Json = False,
) -> None:
    """Labels with probabilities for texts; --file streams a file of any size (JSON: one line per text)."""
    from textrnn.pipeline import load

    if not texts and file is None:
        _usage("predict needs texts to classify: give them as arguments, or --file FILE")
    pipe = load(run_dir, device=device or "cpu")
    pipe.command("predict")
    if pipe.tokenizer is None:
        _usage(f"{run_dir}: this {pipe.config.task} run predicts numbers from arrays, not labels of texts; call "
               "pipe.predict(inputs) in Python, or textrnn evaluate --data")
    field = text_field or (pipe.config.meta.get("data") or {}).get("text_field", "text")

    def show(r: dict) -> None:
        tops = ", ".join(f"{t['label']} {t['probability']:.3f}" for t in r["top"])
        print(f"{r['label']}\t{tops}\t{r['text'][:80]}")

    _answer(lambda chunk: pipe.predict(chunk, top=top, batch_size=batch_size), _texts(texts, file, format, field),
            streaming=file is not None, as_json=as_json, show=show)


def _answer(answer, pairs, streaming: bool, as_json: bool, show, empty_ok: bool = False) -> None:
    """Answer the texts of ``pairs`` a chunk at a time: one JSON value for the arguments, or (streaming a file) one
    JSON line per text; ``show`` prints an answer as text. An empty text is refused unless ``empty_ok``."""
    for chunk in _chunks((text for _, text in pairs) if empty_ok else _checked(pairs)):
        results = answer(chunk)
        if as_json and not streaming:
            _emit(results, True)
            continue
        for r in results:
            if as_json:
                print(json.dumps(r, ensure_ascii=False))
            else:
                show(r)


@app.command()
def tag(
    run_dir: Annotated[Path, typer.Argument(help="A saved tagger run directory.")],
    texts: Annotated[list[str] | None, typer.Argument(help="Sentences to tag.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="A file of texts: lines, JSON lines, CSV or TSV.")] = None,
    format: Format = "auto",
    text_field: Annotated[str, typer.Option("--text-field")] = "text",
    device: Device = None,
    as_json: Json = False,
) -> None:
    """Tokens with tags and the entity spans (type and character offsets) for plain texts of any length."""
    from textrnn.pipeline import load

    if not texts and file is None:
        _usage("tag needs texts to tag: give them as arguments, or --file FILE")
    pipe = load(run_dir, device=device or "cpu")
    pipe.command("tag")

    def show(r: dict) -> None:
        print(" ".join(f"{t}/{g}" for t, g in zip(r["tokens"], r["tags"], strict=True)))
        for e in r["entities"]:
            print(f"  {e['type']}: {e['text']} [{e['start']}:{e['end']}]")

    _answer(pipe.tag, _texts(texts, file, format, text_field), streaming=file is not None, as_json=as_json, show=show)


@app.command()
def generate(
    run_dir: Annotated[Path, typer.Argument(help="A saved language-model run directory.")],
    prompt: Annotated[str, typer.Argument(help="Text to continue.")] = "",
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=0)] = 100,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, help="0 = greedy.")] = 1.0,
    top_k: Annotated[int, typer.Option("--top-k", min=0, help="0 = no limit.")] = 0,
    top_p: Annotated[float, typer.Option("--top-p", max=1.0, help="In (0, 1]; 1 = no limit.")] = 1.0,
    beam: Annotated[int, typer.Option("--beam", min=1)] = 1,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    interactive: Annotated[bool, typer.Option("--interactive", "-i", help="A prompt loop (:help for commands).")] = False,
    device: Device = None,
    as_json: Json = False,
) -> None:
    """Continue a prompt with a language model (greedy, sampling or beam search)."""
    from textrnn.pipeline import load

    pipe = load(run_dir, device=device or "cpu")
    pipe.command("generate")
    if interactive:
        from textrnn.interactive import run_interactive
        from textrnn.tasks.lm.sampling import GenerationConfig

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
    from textrnn.pipeline import load
    from textrnn.tasks.lm.scoring import rank

    pipe = load(run_dir, device=device or "cpu")
    results = pipe.score(list(_checked((f"sentence {n}", s) for n, s in enumerate(sentences, 1))))
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
    top: Annotated[int, typer.Option("--top", min=1)] = 3,
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


@app.command()
def translate(
    run_dir: Annotated[Path, typer.Argument(help="A saved translator run directory.")],
    texts: Annotated[list[str] | None, typer.Argument(help="Sentences to translate.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="A file of sentences: one a line (any extension but "
                                                             "the formats' own, e.g. test.de), or JSON lines.")] = None,
    format: Format = "auto",
    text_field: Annotated[str, typer.Option("--text-field")] = "text",
    beam: Annotated[int | None, typer.Option("--beam", min=1, help="Beam size (1: greedy; default: the run's).")] = None,
    attention_png: Annotated[Path | None, typer.Option("--attention-png", help="Draw the first sentence's "
                                                                                "attention as a heat map.")] = None,
    device: Device = None,
    as_json: Json = False,
) -> None:
    """Translate sentences with a saved encoder-decoder; --file streams one translation a line."""
    from textrnn.pipeline import load

    if not texts and file is None:
        _usage("translate needs sentences: give them as arguments, or --file FILE")
    from textrnn.corpus import detect_format

    pipe = load(run_dir, device=device or "cpu")
    pipe.command("translate")
    drawn = [attention_png is None]

    def answer(chunk: list[str]) -> list[dict]:
        results = pipe.translate(chunk, beam=beam, attention=not drawn[0])
        first = results[0]
        if not drawn[0] and first["target_tokens"] and first["source_tokens"]:
            from textrnn.plots import plot_attention

            plot_attention(first["attention"], first["source_tokens"], first["target_tokens"], attention_png,
                           title=first["source"][:60])
            drawn[0] = True
        return [{k: r[k] for k in ("source", "translation", "logprob")} for r in results]

    format = detect_format(file, format, unknown="lines") if file is not None else format   # sentences.de: lines
    _answer(answer, _texts(texts, file, format, text_field), streaming=file is not None, as_json=as_json,
            show=lambda r: print(r["translation"]), empty_ok=True)


@app.command("export")
def export_command(
    run_dir: Annotated[Path, typer.Argument(help="A saved run directory.")],
    out: Annotated[Path, typer.Option("--out", help="The folder to write the export into.")],
    format: Annotated[str, typer.Option("--format", help="onnx.")] = "onnx",
    as_json: Json = False,
) -> None:
    """Export a saved run for onnxruntime (checked against PyTorch before it is written); needs textrnn[export]."""
    from textrnn.export import export_run

    manifest = export_run(run_dir, out, format=format)
    checked = manifest["checked"]
    _emit(manifest, as_json, f"exported {run_dir} ({manifest['task']}) to {out}: onnxruntime matches PyTorch to "
                             f"{checked['max_abs_difference']:.1e} at {checked['steps']} steps x {checked['batches']} rows")


@app.command()
def serve(
    runs: Annotated[list[str], typer.Argument(help="Runs to serve: PATH (named by its folder) or NAME=PATH.")],
    host: Annotated[str, typer.Option("--host", help="Address to bind; anything but loopback is reachable by "
                                                     "others.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    threads: Annotated[int, typer.Option("--threads", help="torch threads for inference (0: torch's default).")] = 1,
    device: Device = None,
) -> None:
    """Serve saved runs: a JSON API (/v1/models, /docs) and a web page at /; needs textrnn[serve]."""
    from textrnn.serve import serve_runs

    serve_runs(runs, host=host, port=port, threads=threads, device=device or "cpu")


def _train_command(task: str):
    def command(
        data: Annotated[Path, typer.Option("--data", help="Train file: jsonl, csv/tsv, txt or CoNLL columns.")],
        valid: Annotated[Path | None, typer.Option("--valid", help="Validation file (else a seeded slice of train).")] = None,
        text_field: Annotated[str, typer.Option("--text-field")] = "text",
        label_field: Annotated[str, typer.Option("--label-field")] = "label",
        target: Annotated[Path | None, typer.Option("--target", help="translate: the target side, a line file "
                                                                     "aligned to --data (else --data is a TSV)")] = None,
        tokenizer: Annotated[str | None, typer.Option("--tokenizer", help="word, char or sentencepiece (default: "
                                                                          "the task's).")] = None,
        embedding: Annotated[str | None, typer.Option("--embedding", help="learned, onehot or word2vec.")] = None,
        cell: Annotated[str, typer.Option("--cell", help="rnn, lstm or gru.")] = "lstm",
        out: Annotated[Path, typer.Option("--out", help="Run directory.")] = Path(f"runs/{task}"),
        set_: Annotated[list[str] | None, typer.Option("-s", "--set", help="Override a setting: -s train.epochs=3")] = None,
        device: Device = None,
        resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --out.")] = False,
        overwrite: Overwrite = False,
        log: Annotated[str | None, typer.Option("--log", help="tensorboard: also write TensorBoard scalars.")] = None,
        quiet: Annotated[bool, typer.Option("--quiet")] = False,
        init_from: Annotated[Path | None, typer.Option(
            "--init-from", help="Go on from a saved run of this task (fine-tune): its tokenizer, vocabulary, "
                                "model and weights.")] = None,
        as_json: Json = False,
    ) -> None:
        from textrnn.recipes import train_custom

        overrides = list(set_ or []) + ([f"train.log={json.dumps(log)}"] if log else [])
        with _training():
            metrics = train_custom(task, data, valid=valid, target=target, text_field=text_field,
                                   label_field=label_field, tokenizer=tokenizer, embedding=embedding, cell=cell, out=out, overrides=overrides,
                                   device=device, resume=resume, overwrite=overwrite, quiet=quiet,
                                   init_from=init_from)
        if metrics:   # a distributed rank other than 0 reports nothing
            _emit(metrics, as_json, f"{task}: {_short(metrics['valid'])}\nsaved to {out}")

    command.__doc__ = TASKS[task].help
    return command


for _task, _entry in TASKS.items():
    if _entry.help:
        train_app.command(_task)(_train_command(_task))


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
        if _state["debug"]:
            raise
        sys.exit(_report(error))
    # without standalone mode typer returns the code of an Exit, and of a Ctrl-C outside training (130)
    if isinstance(code, int) and code:
        if code == 130:
            print("textrnn: interrupted", file=sys.stderr)
        sys.exit(code)


def _report(error: Exception) -> int:
    """Print ``error`` as one line on stderr and return the exit code: 2 for usage errors and bad input (a
    TextrnnError names the file, line or key and the fix), 1 for the machine's (a full disk) and for bugs."""
    from textrnn.errors import TextrnnError

    if isinstance(error, typer.Exit):
        return error.exit_code
    if isinstance(error, typer.Abort):
        print("textrnn: aborted", file=sys.stderr)
        return 130
    if isinstance(error, typer.TyperException) and hasattr(error, "format_message"):   # click's usage errors
        print(f"textrnn: error: {' '.join(error.format_message().split())}", file=sys.stderr)
        return getattr(error, "exit_code", 2)
    # input errors, and the machine's (a full disk, a missing folder, no permission): one line, no traceback
    if isinstance(error, (TextrnnError, OSError)):
        print(f"textrnn: error: {' '.join(str(error).split())}", file=sys.stderr)
        return error.exit_code if isinstance(error, TextrnnError) else 1
    print(f"textrnn: internal error: {type(error).__name__}: {error} (run with --debug for the traceback)",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    main()
