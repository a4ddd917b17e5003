import pytest

from conftest import write_rubric, TINY_RUBRIC
from grader.inspection.checks import evaluate_checks
from grader.inspection.modelfacts import ModelFacts
from grader.sandbox.protocol import Run
from grader.rubric import load_rubric

MODULE_CHECKS = """\
  - {id: features_shape, kind: module_output_shape, module: features, expected: [64, 7, 7], points: 2}
  - {id: conv1_params, kind: module_parameters, module: features.0, expected: 320, points: 2}
  - {id: layer1, kind: module_output_shape, module: layer1, expected: [32, 14, 14], points: 2}
"""


@pytest.fixture
def rubric(tmp_path):
    text = TINY_RUBRIC.format(time_limit=60).replace("scoring:", MODULE_CHECKS + "scoring:")
    return load_rubric(str(write_rubric(tmp_path, text=text)))


def module(name, type_, output_shape, parameters, convs=(), norms=(), **settings):
    """Facts as grader.inspection.facts reports them for one layer."""
    return {"name": name, "type": type_, "input_shape": None,
            "output_shape": list(output_shape), "parameters": parameters, "buffers": 0,
            "settings": settings, "convs": list(convs), "norms": list(norms)}


def facts(output_shape=(2, 10), parameters=421_642, features=(2, 64, 7, 7), conv1=320):
    conv = {"in": 1, "out": 32, "kernel": [3, 3], "padding": [1, 1], "stride": [1, 1], "bias": True}
    conv1_facts = module("features.0", "Conv2d", [2, 32, 28, 28], conv1, convs=[conv],
                         in_channels=1, out_channels=32, kernel_size=[3, 3], padding=[1, 1], bias=True)
    return Run(
        seed=0,
        inspection=ModelFacts.load({
            "output_shape": list(output_shape), "output_type": "Tensor", "output": None,
            "parameters": parameters, "total_parameters": parameters, "uninitialized": [],
            "layers": [conv1_facts,
                       module("classifier.1", "Linear", [2, 128], 401_536, in_features=3136,
                              out_features=128, bias=True)],
            "modules": {"features": {"exists": True, **module(
                            "features", "Sequential", features, 18_816,
                            convs=[conv, {**conv, "in": 32, "out": 64}])},
                        "features.0": {"exists": True, **conv1_facts},
                        "layer1": {"exists": False}},
            "error": None, "scripted": False,
        }),
        requested={"EPOCHS": 5, "BATCH_SIZE": 128},
    )


def by_id(results):
    return {r.id: r for r in results}


def test_a_baseline_shaped_model_passes_all_but_the_missing_module(rubric):
    r = by_id(evaluate_checks(rubric, facts(), num_classes=10))
    assert all(r[k].passed for k in ("output_shape", "parameters", "budget", "features_shape", "conv1_params"))
    assert not r["layer1"].passed
    assert "no submodule `layer1`" in r["layer1"].output
    assert "classifier, features" in r["layer1"].output  # tells the student what it does have


def test_failures_say_expected_and_got(rubric):
    f = facts(output_shape=(2, 128), parameters=3_000_000, features=(2, 64, 14, 14), conv1=288)
    f.requested = {"EPOCHS": 50, "BATCH_SIZE": 128}
    r = by_id(evaluate_checks(rubric, f, num_classes=10))
    assert not r["output_shape"].passed and "[2, 128]" in r["output_shape"].output
    assert not r["parameters"].passed and "3,000,000" in r["parameters"].output
    assert "classifier.1" in r["parameters"].output  # names the largest layer
    assert not r["budget"].passed and "EPOCHS = 50 is over the budget of 5" in r["budget"].output
    assert "should output 64×7×7 per image, got 64×14×14" in r["features_shape"].output
    assert "a MaxPool2d(2) is missing" in r["features_shape"].output
    assert "should have 320 parameters, got 288" in r["conv1_params"].output
    assert sum(c.points for c in r.values()) == 0


def test_checks_without_facts_fail_with_the_reason(rubric):
    run = Run(seed=0, failure={"summary": "Syntax error in the submission"})
    results = evaluate_checks(rubric, run, num_classes=10)
    assert all(not c.passed and c.points == 0 for c in results)
    assert "Not checked: Syntax error in the submission." in results[0].output


def test_budget_check_only_needs_the_hooks(rubric):
    run = Run(seed=0, requested={"EPOCHS": 2, "BATCH_SIZE": 64},
              failure={"summary": "forward failed"})
    r = by_id(evaluate_checks(rubric, run, num_classes=10))
    assert r["budget"].passed and not r["output_shape"].passed
