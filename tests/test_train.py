"""The training loop's contracts: resume gives the same weights, a diverging loss stops cleanly, checkpoints are
atomic and never unpickle code."""
import os
import pickle
import time

import pytest
import torch

from textrnn.encode import Batch
from textrnn.errors import ConfigError, TrainingError
from textrnn.train import (
    CHECKPOINT,
    TaskLoop,
    TrainConfig,
    WeightAverage,
    autocast_dtype,
    fit,
    load_checkpoint,
    make_optimizer,
    resolve_device,
)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.GRU(2, 8, batch_first=True)
        self.drop = torch.nn.Dropout(0.3)   # makes the run depend on the RNG state, which resume must restore
        self.out = torch.nn.Linear(8, 1)

    def forward(self, inputs, lengths=None, targets=None):
        h, _ = self.rnn(inputs)
        y = self.out(self.drop(h[:, -1]))
        return y, (torch.nn.functional.mse_loss(y, targets) if targets is not None else None)


def data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 10, 2, generator=g)
    return x, x[:, :, 0].sum(1, keepdim=True) / 10


def make_loop(scale=1.0):
    x, y = data()

    def batches(epoch):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch))
        return [Batch(inputs=x[order[i:i + 8]], targets=y[order[i:i + 8]]) for i in range(0, len(x), 8)]

    def step(model, batch, carry):
        _, loss = model(batch.inputs, None, batch.targets)
        return loss * scale, None

    def evaluate(model):
        model.eval()
        with torch.no_grad():
            _, loss = model(x, None, y)
        model.train()
        return {"loss": float(loss)}

    return TaskLoop(batches=batches, step=step, evaluate=evaluate)


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_resume_after_interrupt_gives_the_same_weights(tmp_path, ema):
    config = TrainConfig(epochs=4, lr=0.01, seed=3, ema=ema)
    torch.manual_seed(0)
    straight = Tiny()
    fit(straight, make_loop(), config, run_dir=tmp_path / "a", quiet=True)

    torch.manual_seed(0)
    interrupted = Tiny()
    loop = make_loop()
    calls = {"n": 0}
    original = loop.step

    def step_then_interrupt(model, batch, carry):
        calls["n"] += 1
        if calls["n"] == 13:   # mid-epoch 2: the same as a Ctrl-C arriving
            os.kill(os.getpid(), 2)
        return original(model, batch, carry)

    loop.step = step_then_interrupt
    with pytest.raises(KeyboardInterrupt, match="checkpoint saved"):
        fit(interrupted, loop, config, run_dir=tmp_path / "b", quiet=True)
    state = load_checkpoint(tmp_path / "b" / CHECKPOINT)
    assert (state["epoch"], state["step"]) == (1, 5)

    torch.manual_seed(123)   # a different process would start from another RNG state
    resumed = Tiny()
    fit(resumed, make_loop(), config, run_dir=tmp_path / "b", resume=True, quiet=True)
    assert torch.allclose(weights(straight), weights(resumed))


def test_resume_from_an_epoch_checkpoint(tmp_path):
    config = TrainConfig(epochs=3, lr=0.01, seed=1)
    torch.manual_seed(0)
    straight = Tiny()
    fit(straight, make_loop(), config, run_dir=tmp_path / "a", quiet=True)
    torch.manual_seed(0)
    first = Tiny()
    fit(first, make_loop(), TrainConfig(epochs=1, lr=0.01, seed=1), run_dir=tmp_path / "b", quiet=True)
    resumed = Tiny()
    fit(resumed, make_loop(), config, run_dir=tmp_path / "b", resume=True, quiet=True)
    assert torch.allclose(weights(straight), weights(resumed))


def slow_loop(seconds_per_step):
    loop = make_loop()
    inner = loop.step

    def step(model, batch, carry):
        time.sleep(seconds_per_step)
        return inner(model, batch, carry)

    return TaskLoop(batches=loop.batches, step=step, evaluate=loop.evaluate)


def test_a_time_budget_ends_the_epoch_it_runs_out_in_and_anneals_the_rate_over_the_budget(tmp_path):
    # 8 steps of 50 ms an epoch; a budget of 0.2 s ends inside the first epoch, which is still evaluated and saved
    config = TrainConfig(epochs=50, lr=0.01, schedule="cosine", max_minutes=0.2 / 60)
    history = fit(Tiny(), slow_loop(0.05), config, run_dir=tmp_path, quiet=True)
    assert len(history.epochs) == 1 and "time budget" in history.stopped and "epoch 1" in history.stopped
    # by steps alone the cosine over 50 epochs would still be at its start; by the clock it has annealed
    assert history.epochs[0]["lr"] < 0.01 * 0.2
    assert load_checkpoint(tmp_path / CHECKPOINT)["epoch"] == 1
    # resuming a run whose budget is spent trains nothing more
    again = fit(Tiny(), slow_loop(0.05), config, run_dir=tmp_path, resume=True, quiet=True)
    assert len(again.epochs) == 1


def test_without_a_budget_the_schedule_follows_the_steps(tmp_path):
    history = fit(Tiny(), make_loop(), TrainConfig(epochs=2, lr=0.01, schedule="cosine"), quiet=True)
    assert history.epochs[0]["lr"] == pytest.approx(0.005, rel=0.05)   # half-way through the cosine
    assert history.epochs[1]["lr"] == pytest.approx(0.0, abs=1e-9)


def test_diverging_loss_stops_with_epoch_and_step_and_keeps_the_checkpoint(tmp_path):
    model = Tiny()
    fit(model, make_loop(), TrainConfig(epochs=1, lr=0.01), run_dir=tmp_path, quiet=True)
    before = (tmp_path / CHECKPOINT).read_bytes()
    with pytest.raises(TrainingError, match=r"epoch 1, step 1.*learning rate"):
        fit(model, make_loop(scale=float("nan")), TrainConfig(epochs=2, lr=0.01), run_dir=tmp_path, quiet=True)
    assert (tmp_path / CHECKPOINT).read_bytes() == before


def test_a_batch_that_does_not_fit_in_memory_names_the_batch_size_to_try(tmp_path):
    loop = make_loop()

    def step(model, batch, carry):   # a real allocation, far beyond this machine's memory
        activations = torch.empty(batch.size, 10**12)
        return activations.sum(), None

    loop.step = step
    with pytest.raises(TrainingError, match=r"out of memory at epoch 1, step 1 with batch size 32; try -s train.batch_size=16"):
        fit(Tiny(), loop, TrainConfig(epochs=1, batch_size=32), run_dir=tmp_path, quiet=True)


def test_early_stopping_restores_the_best_weights():
    model = Tiny()
    history = fit(model, make_loop(), TrainConfig(epochs=30, lr=0.05, early_stopping=2), quiet=True)
    assert history.best_epoch <= len(history.epochs)
    assert history.best == min(e["valid_loss"] for e in history.epochs)


def test_a_pickled_checkpoint_with_code_is_refused(tmp_path):
    marker = tmp_path / "owned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / CHECKPOINT).write_bytes(pickle.dumps({"model": Payload()}))
    with pytest.raises(TrainingError, match="not a textrnn checkpoint.*never loads.*delete it") as refused:
        load_checkpoint(tmp_path / CHECKPOINT)
    assert not marker.exists()
    assert "weights_only" not in str(refused.value)   # never the advice to unpickle it after all


def test_half_written_temporaries_are_cleaned(tmp_path):
    (tmp_path / ".tmp-checkpoint.pt.abc").write_bytes(b"partial")
    fit(Tiny(), make_loop(), TrainConfig(epochs=1), run_dir=tmp_path, quiet=True)
    assert not list(tmp_path.glob(".tmp-*"))


def test_devices():
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(ConfigError):
        resolve_device("tpu")


def test_bad_monitor_names_the_choices():
    with pytest.raises(ConfigError, match="train.monitor='f1'.*loss"):
        fit(Tiny(), make_loop(), TrainConfig(epochs=1, monitor="f1"), quiet=True)


def test_cpu_mixed_precision_runs_steps_in_bf16_only_when_asked_and_the_cpu_has_it(monkeypatch, capsys):
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, True, False) is None               # fp32 by default, as Keras
    monkeypatch.setattr("textrnn.train.device.cpu_has_bf16", lambda: False)
    assert autocast_dtype(cpu, True, True, quiet=False) is None
    assert "no native bf16" in capsys.readouterr().err
    monkeypatch.setattr("textrnn.train.device.cpu_has_bf16", lambda: True)
    assert autocast_dtype(cpu, True, True) is torch.bfloat16
    seen = []

    class Recording(Tiny):
        def forward(self, inputs, lengths=None, targets=None):
            h, _ = self.rnn(inputs)
            y = self.out(self.drop(h[:, -1]))
            seen.append(y.dtype)
            return y, (torch.nn.functional.mse_loss(y.float(), targets) if targets is not None else None)

    history = fit(Recording(), make_loop(), TrainConfig(epochs=2, amp_cpu=True), quiet=True)
    assert set(seen) == {torch.bfloat16}                             # train steps and evaluation
    assert all(torch.isfinite(torch.tensor(e["valid_loss"])) for e in history.epochs)


def test_the_weight_average_follows_its_formula_with_a_decay_that_warms_up():
    layer = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    average = WeightAverage(layer, decay=0.5)
    expected = 0.0
    for n, value in enumerate([4.0, 8.0, 2.0], start=1):
        with torch.no_grad():
            layer.weight.fill_(value)
        average.after_step()
        decay = min(0.5, (1 + n) / (10 + n))
        expected = decay * expected + (1 - decay) * value
        assert average.shadow[0].item() == pytest.approx(expected)
    with average.evaluating():
        assert layer.weight.item() == pytest.approx(expected)
    assert layer.weight.item() == 2.0          # the training weights are back after the block
    with pytest.raises(ConfigError, match="train.ema must be between 0 and 1"):
        WeightAverage(layer, decay=1.5)


def test_with_a_weight_average_validation_and_the_saved_model_use_the_average(tmp_path):
    seen = []
    loop = make_loop()
    evaluate = loop.evaluate

    def evaluate_and_record(model):
        seen.append(weights(model).clone())
        return evaluate(model)

    loop.evaluate = evaluate_and_record
    torch.manual_seed(0)
    plain = Tiny()
    fit(plain, make_loop(), TrainConfig(epochs=3, lr=0.05, seed=2, restore_best=False), quiet=True)
    torch.manual_seed(0)
    averaged = Tiny()
    fit(averaged, loop, TrainConfig(epochs=3, lr=0.05, seed=2, restore_best=False, ema=0.9), run_dir=tmp_path,
        quiet=True)
    # the average does not change the training path: the checkpoint's training weights are the plain run's
    trained = load_checkpoint(tmp_path / CHECKPOINT)["model"]
    assert torch.allclose(torch.cat([trained[k].flatten() for k in plain.state_dict()]), weights(plain))
    # validation saw the averaged weights, which are what the model holds at the end
    assert torch.equal(seen[-1], weights(averaged))
    assert not torch.allclose(weights(averaged), weights(plain))


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_runs_fused_and_steps_as_the_plain_loop_does(name):
    """make_optimizer asks for Adam's fused kernel (one pass over all weights): the same steps, much faster."""
    torch.manual_seed(0)
    model = Tiny()
    twin = Tiny()
    twin.load_state_dict(model.state_dict())
    config = TrainConfig(optimizer=name, lr=0.01, weight_decay=0.01)
    fused = make_optimizer(model, config)
    plain = (torch.optim.Adam if name == "adam" else torch.optim.AdamW)(twin.parameters(), lr=0.01, weight_decay=0.01,
                                                                      foreach=False)
    assert fused.defaults["fused"] is True
    x = torch.randn(4, 5, 2)
    for _ in range(3):
        for net, optimizer in ((model, fused), (twin, plain)):
            optimizer.zero_grad()
            net.eval()          # no dropout: both see the same function
            net(x)[0].sum().backward()
            optimizer.step()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_every_epoch_is_a_row_of_metrics_csv_streamed_and_a_resume_never_writes_one_twice(tmp_path):
    import csv

    from textrnn.train import CSV_LOG

    model = Tiny()
    fit(model, make_loop(), TrainConfig(epochs=2, lr=0.01), run_dir=tmp_path, quiet=True)
    rows = list(csv.DictReader(open(tmp_path / CSV_LOG, encoding="utf-8")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert {"train_loss", "valid_loss", "seconds", "tokens_per_second", "lr"} <= set(rows[0])
    fit(Tiny(), make_loop(), TrainConfig(epochs=4, lr=0.01), run_dir=tmp_path, resume=True, quiet=True)
    rows = list(csv.DictReader(open(tmp_path / CSV_LOG, encoding="utf-8")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]


def test_tensorboard_logs_the_epoch_scalars_when_asked(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    fit(Tiny(), make_loop(), TrainConfig(epochs=2, lr=0.01, log="tensorboard"), run_dir=tmp_path, quiet=True)
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert {"train_loss", "valid_loss", "lr", "tokens_per_second"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("valid_loss")] == [1, 2]


def test_without_validation_training_says_so_keeps_the_last_epoch_and_refuses_early_stopping(capsys):
    loop = make_loop()
    loop.evaluate = None
    history = fit(Tiny(), loop, TrainConfig(epochs=2, lr=0.01))
    assert "without validation" in capsys.readouterr().err
    assert len(history.epochs) == 2 and "valid_loss" not in history.epochs[0]
    with pytest.raises(ConfigError, match="early_stopping needs validation"):
        fit(Tiny(), loop, TrainConfig(epochs=2, early_stopping=1), quiet=True)


def test_a_pipeline_given_no_validation_trains_without_it_and_says_so(capsys):
    from textrnn.corpus import Example
    from textrnn.pipeline import Pipeline

    examples = [Example(text=t, label=label) for t, label in (("good film", "pos"), ("bad film", "neg"))] * 4
    pipe = Pipeline.for_task("classify", train=examples, model={"hidden_dim": 4, "embedding": {"dim": 4}})
    history = pipe.fit(examples, epochs=1)
    assert "without validation" in capsys.readouterr().err and "valid_loss" not in history.epochs[0]


def test_max_steps_ends_training_mid_epoch_and_the_schedule_anneals_over_them(tmp_path):
    steps = []
    loop = make_loop()
    step = loop.step

    def counting(model, batch, carry):
        steps.append(1)
        return step(model, batch, carry)

    loop.step = counting
    history = fit(Tiny(), loop, TrainConfig(epochs=10, lr=0.01, max_steps=12, schedule="linear"), quiet=True)
    assert len(steps) == 12 and len(history.epochs) == 2           # 8 batches an epoch: the second is cut at 4
    assert history.stopped == "12 steps reached in epoch 2" and history.epochs[-1]["lr"] == pytest.approx(0.0)
