"""The parent checks what the child reports (#29): each run is measured again from the
weights it saved, in a fresh child, and its history and the loop's counters are held
against the budget. Hostile submissions shaped like real ones each get the right flag;
honest ones are unaffected."""
import pytest
import torch

from conftest import REPO, SUBMISSIONS, grade
from grader.grading import ACCOUNT
from grader.inspection import audit
from grader.sandbox import landlock
from grader.sandbox.protocol import ChildResult, Run


@pytest.fixture(autouse=True)
def forked_children(monkeypatch):
    """Where Landlock works, its fork server's children: the checks here do not depend on
    the confinement, and a forked child starts in 0.1 s where bubblewrap's takes 2-3 s
    (tests/sandbox/test_isolation.py covers the modes)."""
    if landlock.abi() >= 1:
        monkeypatch.setenv("GRADER_SANDBOX", "landlock")


# fixture -> (failure code, the facts that must be among the findings)
HOSTILE = {
    "hostile_grows_after_inspection.py": ("tampered_result", {"weights"}),
    "hostile_behaves_otherwise_once_trained.py": ("tampered_result", {"test_predictions"}),
    "hostile_fakes_its_result_in_the_child.py": ("tampered_result", {"parameters", "test_predictions"}),
    "hostile_trains_extra_epochs_by_patching.py": ("extra_training", {"history_length"}),
    "hostile_edits_its_history.py": ("extra_training", {"optimizer_steps"}),
    "hostile_pretrains_in_build_optimizer.py": ("extra_training", {"outside_steps"}),
    "hostile_calls_the_loop_itself.py": ("extra_training", {"loop_calls", "optimizer_steps"}),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_report_that_does_not_hold_is_flagged_and_not_credited(name, fmnist_dir, session_cache,
                                                                 tiny_rubric):
    code, facts = HOSTILE[name]
    r = grade(SUBMISSIONS / name, tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] == "failed" and r["failure"]["code"] == code, r["failure"]
    assert r["metrics"]["gain_pp"] is None and r["metrics"]["accuracy"] is None  # no gain credit
    assert r["score"] <= 15  # the structural checks' points at most: nothing for training or gain
    (v,) = r["metrics"]["verification"]
    found = {f["fact"] for f in v["findings"] + v["budget_findings"]}
    assert facts <= found, found
    assert "flagged for an instructor's review" in r["anomaly"]  # the instructor sees it
    assert all(f in r["anomaly"] for f in facts)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["bwrap", "none"])
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_confinement_flags_them_alike(name, mode, fmnist_dir, session_cache, tiny_rubric,
                                            monkeypatch):
    """The re-measurement and the budget checks are the parent's, whatever confined the
    child: under bubblewrap (a fresh Python per child) and with no confinement at all each
    hostile fixture ends with the same flag as under the Landlock fork server above."""
    from grader.sandbox.confine import bwrap_works
    if mode == "bwrap" and not bwrap_works():
        pytest.skip("bubblewrap cannot run here")
    monkeypatch.setenv("GRADER_SANDBOX", mode)
    code, facts = HOSTILE[name]
    r = grade(SUBMISSIONS / name, tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] == "failed" and r["failure"]["code"] == code, r["failure"]
    assert r["metrics"]["gain_pp"] is None and r["score"] <= 15
    (v,) = r["metrics"]["verification"]
    assert facts <= {f["fact"] for f in v["findings"] + v["budget_findings"]}


def test_the_fake_count_is_not_what_the_checks_judge(fmnist_dir, session_cache, tiny_rubric):
    """The forger reported one parameter; the checks and the report use the re-measured count."""
    r = grade(SUBMISSIONS / "hostile_fakes_its_result_in_the_child.py", tiny_rubric, fmnist_dir,
              session_cache)
    (v,) = r["metrics"]["verification"]
    assert v["parameters"] == {"reported": 1, "measured": 421642}
    assert r["metrics"]["parameters"] == 421642


def test_the_template_is_measured_again_and_unaffected(fmnist_dir, session_cache, tiny_rubric):
    r = grade(REPO / "student_template", tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] == "graded", r["failure"]
    m = r["metrics"]
    assert m["accuracy"] == m["baseline_accuracy"] and m["gain_pp"] == 0
    (v,) = m["verification"]
    assert v["findings"] == [] and v["budget_findings"] == []
    assert v["differing_predictions"] == 0 and v["compared_predictions"] == min(ACCOUNT, 100)
    assert v["parameters"]["reported"] == v["parameters"]["measured"] == m["parameters"]
    assert r["anomaly"] is None


def test_an_optimizer_wrapper_is_one_step_of_the_loops(tmp_path, fmnist_dir,
                                                                 session_cache, tiny_rubric):
    """An optimizer whose step() steps another one (SAM, Lookahead) is not training outside
    the loop."""
    sub = tmp_path / "sub.py"
    sub.write_text(
        "import torch\n"
        "class Wrapped(torch.optim.Optimizer):\n"
        "    def __init__(self, params):\n"
        "        params = list(params)\n"
        "        super().__init__(params, {})\n"
        "        self.inner = torch.optim.Adam(params, lr=3e-3)\n"
        "    def step(self, closure=None):\n"
        "        self.inner.step()\n"
        "    def zero_grad(self, set_to_none=True):\n"
        "        self.inner.zero_grad(set_to_none)\n"
        "def build_optimizer(model):\n"
        "    return Wrapped(model.parameters())\n")
    r = grade(sub, tiny_rubric, fmnist_dir, session_cache)
    assert r["status"] == "graded", r["failure"]
    assert r["metrics"]["verification"][0]["budget_findings"] == []


# --- the audit's rules, without a child ----------------------------------------------------

def honest_run(**kw) -> Run:
    run = Run(seed=0, requested={"EPOCHS": 5, "BATCH_SIZE": 128, "EARLY_STOPPING_PATIENCE": None},
              effective={"epochs": 3, "batch_size": 128},
              training={"history": [{"epoch": e} for e in (1, 2, 3)], "steps_per_epoch": 4},
              ledger={"calls": 1, "steps": 12, "outside_steps": 0})
    for k, v in kw.items():
        setattr(run, k, v)
    return run


def within(run, **kw):
    return {f["fact"] for f in audit.trained_within_budget(
        run, **{"max_epochs": 3, "quick_epochs": None, "max_batch_size": 512, "n_train": 500, **kw})}


def test_an_honest_history_has_no_findings():
    assert within(honest_run()) == set()


def test_a_history_longer_than_the_budget_is_found():
    run = honest_run(training={"history": [{"epoch": e} for e in (1, 2, 3, 4)], "steps_per_epoch": 4},
                     ledger={"calls": 1, "steps": 16, "outside_steps": 0})
    assert within(run) == {"history_length"}


def test_the_budget_is_the_rubrics_not_the_childs():
    """--quick allows 1 epoch whatever the child says its effective epochs were."""
    assert within(honest_run(), quick_epochs=1) >= {"epochs", "history_length"}


def test_a_trimmed_history_is_found_by_the_loops_step_count():
    run = honest_run(training={"history": [{"epoch": 1}, {"epoch": 2}, {"epoch": 3}],
                               "steps_per_epoch": 4},
                     ledger={"calls": 1, "steps": 20, "outside_steps": 0})
    assert within(run) == {"optimizer_steps"}


def test_early_stopping_may_shorten_the_history_but_nothing_else_may():
    short = {"history": [{"epoch": 1}, {"epoch": 2}], "steps_per_epoch": 4}
    ledger = {"calls": 1, "steps": 8, "outside_steps": 0}
    assert within(honest_run(training=short, ledger=ledger)) == {"history_length"}
    stopped = honest_run(training=short, ledger=ledger,
                         requested={"EPOCHS": 5, "BATCH_SIZE": 128, "EARLY_STOPPING_PATIENCE": 1})
    assert within(stopped) == set()


def test_renumbered_epochs_a_second_loop_and_missing_counters_are_found():
    assert "history" in within(honest_run(training={"history": [{"epoch": 1}, {"epoch": 1}, {"epoch": 3}],
                                                    "steps_per_epoch": 4}))
    assert within(honest_run(ledger={"calls": 2, "steps": 12, "outside_steps": 0})) == {"loop_calls"}
    assert within(honest_run(ledger=None)) == {"ledger"}
    assert within(honest_run(effective={"epochs": 3, "batch_size": 64})) >= {"batch_size"}


def weights():
    return {"fc.weight": torch.zeros(10, 4), "fc.bias": torch.zeros(10), "bn.running_mean": torch.zeros(4)}


def measured(**kw):
    logits = torch.eye(10)[torch.arange(600) % 10]
    return ChildResult(**{"parameters": 50, "output_shape": [2, 10], "test_logits": logits,
                          "parameter_shapes": {"fc.weight": [10, 4], "fc.bias": [10]}, **kw})


def reported(**kw):
    return ChildResult(**{"model_state": weights(),
                          "inspection": {"parameters": 50, "output_shape": [2, 10]},
                          "test_logits": measured().test_logits[:500], **kw})


def test_an_honest_report_holds_against_the_remeasurement():
    assert audit.remeasured(reported(), measured()) == []


def test_the_count_comes_from_the_saved_weights_not_the_fresh_childs_word():
    found = audit.remeasured(reported(), measured(parameters=1))
    assert [(f["fact"], f["reported"], f["measured"]) for f in found] == [("parameters", 1, 50)]
    found = audit.remeasured(reported(), measured(parameter_shapes={"fc.weight": [10, 5]}))
    assert found[0]["fact"] == "parameter_names"


def test_a_few_differing_predictions_are_tolerated_and_more_are_not():
    near = measured().test_logits.clone()
    near[:2] = torch.roll(near[:2], 1, dims=1)
    assert audit.remeasured(reported(test_logits=near[:500]), measured()) == []
    near[:10] = torch.roll(near[:10], 1, dims=1)
    assert [f["fact"] for f in audit.remeasured(reported(test_logits=near[:500]), measured())] == \
        ["test_predictions"]


def test_weights_that_do_not_fit_and_a_failing_fresh_run_are_findings():
    assert audit.remeasured(reported(model_state=None), measured())[0]["fact"] == "weights"
    assert audit.remeasured(reported(), ChildResult(weights_error="Unexpected key(s)"))[0]["fact"] == "weights"
    assert audit.remeasured(reported(), ChildResult(failure={"message": "boom"}))[0]["fact"] == "fresh_run"
    assert {f["fact"] for f in audit.remeasured(reported(), measured(output_shape=[2, 11]))} == \
        {"output_shape"}


def test_a_child_cannot_report_what_only_the_parent_measures():
    for name, value in {"accuracy": 1.0, "public_accuracy": 1.0, "confusion": [[1]],
                        "verification": {"findings": []}, "wall_s": 1.0, "isolation": {}}.items():
        with pytest.raises(ValueError, match=f"unknown field '{name}'"):
            ChildResult.parse({"status": "ok", "training": {"history": []}, name: value})
    run = Run.from_child(0, ChildResult.parse({"status": "ok", "training": {"history": []}}))
    assert run.accuracy is None and run.public_accuracy is None and run.verification is None
    assert run.confusion is None and run.training == {"history": []}


def test_the_childs_report_is_refused_whole_where_a_field_has_another_type():
    for data in ({"status": "ok", "test_logits": [[1.0]]}, {"status": "ok", "notes": None},
                 {"status": "done"}, {"status": "ok", "parameters": "50"}, ["status"]):
        with pytest.raises(ValueError):
            ChildResult.parse(data)
    partial = ChildResult(notes=["kept"])
    with pytest.raises(ValueError):
        partial.update({"inspection": {"parameters": 1}, "typo_of_a_field": 1})
    assert partial.inspection is None and partial.notes == ["kept"]  # nothing taken
