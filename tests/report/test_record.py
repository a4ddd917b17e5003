"""The typed results record (grader/report/record.py, read and written by grader/records.py):
results.json round-trips key for key, and what is not this grader's results is refused
with where it went wrong."""
import json

import pytest

from grader.records import RecordError, dump
from grader.report.record import Item, Results
from grader.report.results import _history, _pipeline
from grader.sandbox.protocol import Run
from support.results import GOLDEN


@pytest.mark.parametrize("name", ["template", "failed"])
def test_a_stored_real_grading_round_trips_byte_for_byte(name):
    text = (GOLDEN / f"{name}.results.json").read_text()
    data = json.loads(text)
    assert json.dumps(Results.load(data).dump(), indent=2) + "\n" == text


def broken(change):
    data = json.loads((GOLDEN / "template.results.json").read_text())
    change(data)
    return data


@pytest.mark.parametrize("change, where", [
    (lambda d: d.update(sneaky=1), "results: unknown field 'sneaky'"),
    (lambda d: d["metrics"].pop("accuracy"), "results.metrics: missing field 'accuracy'"),
    (lambda d: d["metrics"].update(accuracy="0.9"), "results.metrics.accuracy: float expected, not str"),
    (lambda d: d["tests"][1].update(score=None), r"results.tests\[1\].score: null where a value"),
    (lambda d: d["metrics"].update(baseline_seeds=True), "baseline_seeds: int expected, not bool"),
    (lambda d: d["model"]["layers"][0].pop("convs"), r"results.model.layers\[0\]: missing field 'convs'"),
    (lambda d: d["history"]["student"][0][0].update(lr=0.1), "unknown field 'lr'"),
])
def test_what_is_not_this_graders_results_is_refused_with_where(change, where):
    with pytest.raises(RecordError, match=where):
        Results.load(broken(change))


def test_keys_only_some_results_have_are_written_only_there():
    results = Results.load(broken(lambda d: None))
    assert not {"late", "automatic", "amendment"} & set(results.dump())
    item = Item("Output shape", 5.0, 5.0, "passed", "ok", ["output_shape"])
    assert list(dump(item)) == ["name", "score", "max_score", "status", "output", "tags"]
    answer = Item("Why?", 0.0, 5.0, "failed", "Pending.", ["why", "manual", "pending"])
    assert dump(answer)["answer"] is None and dump(answer)["question"] is None  # found none


def test_a_training_record_not_in_the_loops_form_draws_nothing_and_breaks_nothing():
    """The child's training record is its word (a submission can write to it in its own
    process): the audit judges it; the results keep only what reads as epochs."""
    good = {"epoch": 1, "train_loss": 1.0, "val_accuracy": 0.5, "seconds": 1.0}
    assert [e.epoch for e in _history(Run(seed=0, training={"history": [good]}))] == [1]
    for forged in ([{**good, "extra": 1}], [{**good, "epoch": "1"}], {"1": good}, 5, ["x"], None):
        assert _history(Run(seed=0, training={"history": forged})) == []
    assert _pipeline({"pipeline": {"train": "batched", "test": "batched"}}).train == "batched"
    assert _pipeline({"pipeline": {"train": "batched", "test": "batched", "x": 1}}) is None
