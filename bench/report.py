"""Write BENCHMARKS.md from bench/results.json (what was measured) beside the targets of ../shared/TARGETS.md.

    python bench/report.py

Every figure in BENCHMARKS.md comes from results.json, which only the measuring scripts write; notes written
by hand live in bench/notes.md and are copied in as they are.
"""
from __future__ import annotations

import statistics

from common import HERE, ROOT, load_results

# recipe -> (target text, check(value) -> met?)
TARGETS = {
    "hello": ("100% in under 5 s on CPU", lambda v, row: v >= 1.0 and row["seconds"] < 5),
    "multiply": ("LSTM >= 99.0%, GRU >= 99.5% (mean of 3 seeds)",
                 lambda v, row: v.get("lstm", 0) >= 0.99 and v.get("gru", 0) >= 0.995),
    "sine": ("beats the last-value forecast clearly", lambda v, row: v < 0.8 * row["extra"]["baseline_last_value_mse"]),
    "energy": ("GRU MAPE <= 0.5 x persistence MAPE", lambda v, row: row["extra"]["mape_ratio_to_persistence"] <= 0.5),
    "reuters": (">= 0.85 accuracy within 15 CPU-minutes", lambda v, row: v >= 0.85 and row["seconds"] <= 900),
    "imdb": (">= 0.92 accuracy within 30 CPU-minutes", lambda v, row: v >= 0.92 and row["seconds"] <= 1800),
    "ner": (">= 0.89 test F1 (about 0.94 valid) within 30 CPU-minutes", lambda v, row: v >= 0.94 and row["seconds"] <= 1800),
    "shakespeare": ("<= 1.42 nats/char within 30 CPU-minutes", lambda v, row: v <= 1.42 and row["seconds"] <= 1800),
    "ptb": ("test perplexity <= 100 within 60 CPU-minutes", lambda v, row: v <= 100 and row["seconds"] <= 3600),
    "multi30k": (">= 33 lower-cased BLEU on test within 60 CPU-minutes (judged here on val)",
                 lambda v, row: v >= 33 and row["seconds"] <= 3600),
    "ko-en": ("chrF clearly above the translation-memory baseline",
              lambda v, row: v >= row["extra"]["baseline_chrf"] + 2),
    "complete": (">= 90% of multiple-choice blanks, korean, english and news (each LM on its own domain)",
                 lambda v, row: min(v.get(f"{lm}_choice_accuracy", 0.0) for lm in ("korean", "english", "news")) >= 0.9),
}


def recipe_groups(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """Full-size rows per recipe: the seeded rows where a recipe has any (the current protocol), else its one
    unseeded row, which an older commit measured (the row's commit says which)."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        if not row["quick"]:
            groups.setdefault(row["recipe"], []).append(row)
    out = []
    for name in sorted(groups):
        seeded = sorted((r for r in groups[name] if r.get("seed") is not None), key=lambda r: r["seed"])
        out.append((name, seeded or groups[name][-1:]))
    return out


def mean_value(values: list):
    """The mean of figures (numbers, or dicts of numbers key by key)."""
    if len(values) == 1:
        return values[0]
    if isinstance(values[0], dict):
        return {k: mean_value([v[k] for v in values]) for k in values[0]}
    return statistics.mean(values)


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
    return str(value)


def machine_text(m: dict) -> str:
    cores = f"{m.get('cores', '?')} cores"
    if m.get("cores_used") and m["cores_used"] != m.get("cores"):
        cores = f"{m['cores_used']} of {cores} (taskset)"
    return f"{m.get('cpu', '?')}, {cores}" + (f", {m['gpu']}" if m.get("gpu") else "")


def gpu_section(results: dict, behind: list[str]) -> list[str]:
    """The rows of `bench/gpu.py`: every recipe's quick form on CUDA, then full-size runs beside the CPU's rate."""
    rows = results.get("gpu", [])
    if not rows:
        return []
    lines = ["", "## On a GPU", "",
             "`python bench/gpu.py run` on a lent GPU machine: every recipe's `--quick` form with `--device cuda` (six "
             "at a time, beside the test suite), then full-size runs one at a time. Its PyTorch is the machine's own "
             "CUDA build, not the CPU wheel pinned here.", "",
             "| recipe (`--quick --device cuda`) | exit | device in metrics.json | seconds | machine | date |",
             "|---|---|---|---|---|---|"]
    for row in (r for r in rows if r["what"] == "quick"):
        lines.append(f"| {row['recipe']} | {row['exit']} | {row['device'] or '-'} | {row['seconds']} | "
                     f"{machine_text(row['machine'])} | {row['date']} |")
        if row["exit"] != 0 or not str(row["device"]).startswith("cuda"):
            behind.append(f"- `{row['recipe']} --quick --device cuda` (commit {row['commit']}): exit {row['exit']}, "
                          f"ran on {row['device']}.")
    cpu_rate = {r["recipe"]: r.get("tokens_per_second") for r in results.get("recipes", []) if not r["quick"]}
    lines += ["", "| recipe | measured | epochs | s/epoch | train tokens/s | CPU tokens/s (table above) | GPU / CPU | "
              "total s | machine | date | command |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in (r for r in rows if r["what"] == "full"):
        cpu = cpu_rate.get(row["recipe"])
        ratio = f"{row['tokens_per_second'] / cpu:.0f} x" if cpu and row.get("tokens_per_second") else "-"
        lines.append(f"| {row['recipe']} | {row['metric']}: {fmt(row['value'])} | {row['epochs']} | "
                     f"{fmt(row['seconds_per_epoch'])} | {row.get('tokens_per_second') or '-'} | {cpu or '-'} | {ratio} | "
                     f"{row['seconds']} | {machine_text(row['machine'])} | {row['date']} | `{row['command']}` |")
    return lines


def serve_section(results: dict, behind: list[str]) -> list[str]:
    """The rows of `bench/serve_load.py`: one client, then N concurrent ones, against `textrnn serve` on one core."""
    rows = results.get("serve", [])
    if not rows:
        return []
    lines = ["", "## Serving (`textrnn serve`)", "",
             "`python bench/serve_load.py`: the server pinned to one core with one torch thread, the clients on the "
             "other core over the loopback, each on a keep-alive connection; untrained models of the recipes' shapes "
             "(the time does not depend on the weights). Target: a classifier answers a one-sentence request in "
             "< 20 ms p50, and 16 concurrent clients lose nothing.", "",
             "| model | clients | answered / asked | failed | requests/s | p50 ms | p99 ms | server peak MB | machine | "
             "commit | date | command |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        for phase in (k for k in row["result"] if k != "capability"):
            r = row["result"][phase]
            lines.append(f"| {row['what']} | {r['clients']} | {r['answered']} / {r['asked']} | {r['failed']} | "
                         f"{r['requests_per_second']} | {r['p50_ms']} | {r['p99_ms']} | {row['server_peak_rss_mb']} | "
                         f"{machine_text(row['machine'])} | {row['commit']} | {row['date']} | `{row['command']}` |")
            if r["failed"] or r["answered"] != r["asked"]:
                behind.append(f"- serving {row['model']} to {r['clients']} clients: {r['answered']} of {r['asked']} "
                              "requests answered.")
            if row["model"] == "classifier" and r["clients"] == 1 and r["p50_ms"] >= 20:
                behind.append(f"- serving: a one-sentence classifier request took {r['p50_ms']} ms p50 (target 20).")
    return lines


def onnx_section(results: dict) -> list[str]:
    """The rows of `bench/onnx_speed.py`: an exported run in onnxruntime beside the pipeline in PyTorch."""
    rows = results.get("onnx", [])
    if not rows:
        return []
    lines = ["", "## ONNX export: onnxruntime against PyTorch", "",
             "`python bench/onnx_speed.py`: `textrnn.onnx_runtime` against the saved pipeline, one thread each, "
             "tokenizing alike (what a caller sees); median (best) milliseconds.", "",
             "| model | texts | PyTorch ms | onnxruntime ms | PyTorch / onnxruntime | machine | commit | date | command |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        for texts, r in row["result"].items():
            lines.append(f"| {row['what']} | {texts} | {r['pytorch']['median_ms']} ({r['pytorch']['best_ms']}) | "
                         f"{r['onnxruntime']['median_ms']} ({r['onnxruntime']['best_ms']}) | {r['speed_up']} x | "
                         f"{machine_text(row['machine'])} | {row['commit']} | {row['date']} | `{row['command']}` |")
    return lines


def blanks_section(results: dict, behind: list[str]) -> list[str]:
    """The rows of `bench/blanks.py`: a saved language model on a shipped multiple-choice blanks file."""
    rows = results.get("blanks", [])
    if not rows:
        return []
    lines = ["", "## Multiple-choice blanks (`bench/blanks.py`)", "",
             "A saved language model picks one of each blank's candidates in a file of `recipes/blanks/` (written "
             "here), ranking them by the sentence's log-probability and by that minus the candidate's own (PMI, "
             "`lm.fill_score = pmi`). These rows supersede the `complete` row above where they are newer: that row "
             "is the demo's run on its first 12 items per language. Target: >= 90% of each file.", "",
             "| blanks | items | model (its recipe) | by sentence | by PMI | machine | commit | date | command |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        best = max(row["sentence"]["accuracy"], row["pmi"]["accuracy"])
        lines.append(f"| {row['blanks']} | {row['n']} | {row.get('recipe') or row['name']} | "
                     f"{row['sentence']['accuracy']:.1%} | {row['pmi']['accuracy']:.1%} | {machine_text(row['machine'])} | "
                     f"{row['commit']} | {row['date']} | `{row['command']}` |")
        if best < 0.9:
            behind.append(f"- blanks `{row['blanks']}`: {best:.1%} of {row['n']} right at best (target 90%).")
    return lines


def main() -> None:
    results = load_results()
    lines = ["# Benchmarks", "",
             "Generated by `python bench/report.py` from `bench/results.json`, which only the measuring scripts in "
             "`bench/` write. Targets are those of `../shared/TARGETS.md`. Validation figures are on the splits named; "
             "held-out test figures are measured independently.", ""]
    lines += ["## Recipes", "",
              "One row per recipe at its default settings (`textrnn run NAME`). Where a recipe ran with several "
              "`train.seed` values the row gives their mean, with each seed's figure and the standard deviation "
              "under it, and judges the target on the mean. *Other cores busy* is how busy the rest of the machine "
              "was during the run (`bench/run.py` pins a run to one core; the other core of this 2-core machine is "
              "its hyperthread sibling, so a busy neighbour slows a run by up to 2 x: read the seconds with it).", "",
              "| recipe | target | measured | split | met | epochs | s/epoch | train tokens/s | total s | other cores busy | "
              "peak MB | machine | commit | date | command |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    behind = []
    for name, rows in recipe_groups(results.get("recipes", [])):
        row = rows[0]
        value = mean_value([r["value"] for r in rows])
        seconds = round(statistics.mean(r["seconds"] for r in rows), 1)
        target, check = TARGETS.get(name, ("-", None))
        met = "-"
        if check is not None:
            try:
                met = "yes" if check(value, {**row, "seconds": seconds}) else "no"
            except (KeyError, TypeError):
                met = "?"
        shown = fmt(value)
        if len(rows) > 1:
            shown = f"mean of {len(rows)} seeds {shown}"
        if met == "no":
            behind.append(f"- `{name}`: {shown} ({row['metric']}, {row['split']}) against the target {target}.")
        busy = [r["machine"].get("other_cores_busy") for r in rows]
        busy_text = "-" if any(b is None for b in busy) else ", ".join(f"{b:.0%}" for b in busy)
        command = row["command"].replace(f" -s train.seed={row.get('seed')}", "") if len(rows) > 1 else row["command"]
        if len(rows) > 1:
            command += " -s train.seed=" + ",".join(str(r["seed"]) for r in rows)
        lines.append(f"| {name} | {target} | {row['metric']}: {shown} | {row['split']} | {met} | {row['epochs']} | "
                     f"{fmt(statistics.mean(r['seconds_per_epoch'] for r in rows))} | {row.get('tokens_per_second') or '-'} | "
                     f"{seconds} | {busy_text} | {max((r['peak_memory_mb'] or 0) for r in rows) or '-'} | "
                     f"{machine_text(row['machine'])} | {', '.join(sorted({r['commit'] for r in rows}))} | "
                     f"{max(r['date'] for r in rows)} | `{command}` |")
        if len(rows) > 1 and all(isinstance(r["value"], float) for r in rows):
            per_seed = ", ".join(f"seed {r['seed']} {r['value']:.4f}" for r in rows)
            spread = statistics.stdev(r["value"] for r in rows)
            lines.append(f"|  | seeds |  {per_seed}; standard deviation {spread:.4f} | | | | | | | | | | | | |")
        tests = [r["test_value"] for r in rows if "test_value" in r]
        if tests:
            lines.append(f"|  | test split |  {fmt(mean_value(tests))} | test | | | | | | | | | | | |")
        if row.get("extra"):
            lines.append(f"|  | details |  {fmt(row['extra'])} | | | | | | | | | | | | |")
    lines += ["", "## Side by side with the course's Keras models", "",
              "Same architecture, data, split, batch size and epochs, run alternately in one `bench/vs_keras.py` run. "
              "Rows named `-bf16` ran textrnn with `train.amp_cpu=true` (bf16 mixed precision on this CPU; "
              "`bench/vs_keras.py NAME --amp-cpu`); Keras ran in its default fp32 in every row.", "",
              "| model | textrnn s/epoch | Keras s/epoch | ratio (target <= 0.5) | textrnn accuracy (or the row's metric) | Keras accuracy (or the row's metric) | repeats | machine | date | command |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for row in results.get("vs_keras", []):
        ratio = row["seconds_per_epoch_ratio"]
        if ratio > 0.5:
            behind.append(f"- `{row['recipe']}` trains at {ratio:.2f} x Keras's seconds per epoch (target 0.5).")
        metric = row.get("metric", "accuracy")     # the seq2seq rows compare BLEU under the same keys
        shown = "" if metric == "accuracy" else f"{metric} "
        if row["accuracy_textrnn"] < row["accuracy_keras"]:
            behind.append(f"- `{row['recipe']}` {metric} {row['accuracy_textrnn']:.4f} is below Keras's {row['accuracy_keras']:.4f}.")
        lines.append(f"| {row['recipe']} | {row['seconds_per_epoch_textrnn']:.3f} | {row['seconds_per_epoch_keras']:.3f} | "
                     f"{ratio:.2f} ({row['ratio_min_max'][0]:.2f}-{row['ratio_min_max'][1]:.2f}) | "
                     f"{shown}{row['accuracy_textrnn']:.4f} | {shown}{row['accuracy_keras']:.4f} | {row['repeats']} | "
                     f"{machine_text(row['machine'])} | {row['date']} | `{row['command']}` |")
    for row in results.get("vectorize", []):
        lines += ["", "## Vectorizing", "", "| what | textrnn s | Keras s | HF tokenizers s | ratio to Keras | machine | date |",
                  "|---|---|---|---|---|---|---|",
                  f"| {row['what']} | {row['textrnn_seconds']:.2f} | {fmt(row['keras_seconds'])} | "
                  f"{fmt(row['hf_tokenizers_seconds'])} | {fmt(row['ratio_to_keras'])} | {machine_text(row['machine'])} | {row['date']} |"]
        if row.get("ratio_to_keras") and row["ratio_to_keras"] > 0.5:
            behind.append(f"- vectorizing takes {row['ratio_to_keras']:.2f} x Keras's time (target 0.5).")
    for row in results.get("scaling", []):
        lines += ["", "## How cost grows", "", f"{row['what']} ({machine_text(row['machine'])}, {row['date']}, "
                  f"`{row['command']}`):", "", "| run | s/epoch | peak MB |", "|---|---|---|"]
        lines += [f"| {name} | {r['seconds_per_epoch']} | {r['peak_mb']} |" for name, r in row["result"].items()]
        lines += ["", "Lengths are cut at 100, 200 and 400 tokens; many newswires are shorter than the longer cuts, "
                  "so the real tokens grow less than 2x and 4x there."]
    other = results.get("other", [])
    if other:
        lines += ["", "## Other measurements", ""]
        for row in other:
            lines.append(f"- **{row['what']}** ({machine_text(row['machine'])}, {row['date']}, `{row['command']}`): {fmt(row['result'])}")
            if row.get("target_seconds") is not None and row.get("worst_seconds", 0) > row["target_seconds"]:
                behind.append(f"- {row['what']}: up to {row['worst_seconds']} s against the target of "
                              f"{row['target_seconds']} s.")
    lines += gpu_section(results, behind)
    lines += blanks_section(results, behind)
    lines += serve_section(results, behind)
    lines += onnx_section(results)
    lines += ["", "## Where textrnn is behind", ""]
    lines += behind or ["Nothing measured here is behind its target."]
    notes = HERE / "notes.md"
    if notes.exists():
        lines += ["", notes.read_text().strip()]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
