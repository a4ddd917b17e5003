"""Similar submissions: copydetect with the starter code subtracted, and test predictions
that share mistakes far beyond what the two models' accuracies explain."""
import csv

import numpy as np

from conftest import REPO
from grader.batch import similarity
from support.models import RESNET, RENAMED, OTHER

TEMPLATE = {p.name: p.read_text() for p in sorted((REPO / "student_template").glob("*.py"))}


def submission(model_source: str) -> dict[str, str]:
    """A student's whole hand-in: the template with model.py replaced."""
    return {**TEMPLATE, "model.py": model_source}


def test_a_renamed_copy_is_found_and_the_starter_code_is_not():
    sources = {"u_orig": submission(RESNET), "u_copy": submission(RENAMED),
               "u_other": submission(OTHER), "u_tmpl1": submission(TEMPLATE["model.py"]),
               "u_tmpl2": submission(TEMPLATE["model.py"])}
    found = similarity.code_matches(sources)
    assert list(found) == [("u_copy", "u_orig")]  # two untouched templates share only starter code
    (share_a, share_b), spans, excerpt = found[("u_copy", "u_orig")]
    assert share_a > 0.8 and share_b > 0.8
    first = [s for s in spans if s.startswith("model.py:")][0]  # "model.py:5-20 ~ model.py:5-20"
    lines = first.split(" ~ ")[0].split(":")[1].split("-")
    copied = RENAMED.splitlines()[int(lines[0]) - 1:int(lines[1])]
    assert any("Residual" in line or "nn.Conv2d" in line for line in copied)
    assert all(s.startswith("model.py:") for s in spans)  # the template's files are not in it
    assert "nn.BatchNorm2d" in excerpt or "nn.Conv2d" in excerpt


def test_copies_of_the_instructors_solution_are_not_starter_code():
    """Only the template and the reference baseline are subtracted: two students who hand
    in the instructor's strong solution (leaked), one with its names changed, are a pair."""
    strong = (REPO / "reference" / "strong.py").read_text()
    renamed = strong.replace("StrongCNN", "MyNet").replace("conv_bn", "block")
    found = similarity.code_matches({"u_one": {"model.py": strong}, "u_two": {"net.py": renamed},
                                     "u_other": submission(OTHER)})
    assert list(found) == [("u_one", "u_two")]
    (share_a, share_b), _, _ = found[("u_one", "u_two")]
    assert share_a > 0.9 and share_b > 0.9


def predictions(rng, labels, accuracy, classes=10):
    wrong = rng.random(len(labels)) > accuracy
    pred = labels.copy()
    pred[wrong] = (labels[wrong] + rng.integers(1, classes, wrong.sum())) % classes
    return pred


def test_models_sharing_their_mistakes_are_flagged_and_independent_ones_are_not():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 2000)
    a = predictions(rng, labels, 0.7)
    copy = a.copy()
    flip = rng.choice(len(a), 40, replace=False)  # a different GPU's float sums: a few differ
    copy[flip] = labels[flip]
    b, c = predictions(rng, labels, 0.7), predictions(rng, labels, 0.72)
    evidence = similarity.agreement(labels, a, copy)
    assert evidence["same_wrong_share"] > 0.9
    assert evidence["same_wrong"] > 10 * evidence["expected_same_wrong"]
    assert evidence["excess_agreement"] > 0.9
    independent = similarity.agreement(labels, b, c)
    assert independent["same_wrong"] < 3 * independent["expected_same_wrong"]
    assert abs(independent["excess_agreement"]) < 0.1
    assert abs(independent["agreement"] - independent["expected_agreement"]) < 0.03
    pairs = similarity.find_pairs({}, {"u_a": (labels, a), "u_copy": (labels, copy),
                                       "u_b": (labels, b), "u_c": (labels, c)},
                                  customised={"u_a": True, "u_copy": True, "u_b": True, "u_c": True})
    assert [(p.a, p.b, p.flagged_by) for p in pairs] == [("u_a", "u_copy", ["predictions"])]


def test_the_expected_identical_mistakes_follow_the_confusion_rates():
    labels = np.array([0, 0, 0, 0, 1, 1])
    a = np.array([1, 1, 0, 0, 1, 1])   # class 0: half to 1
    b = np.array([1, 0, 0, 0, 0, 1])   # class 0: a quarter to 1; class 1: half to 0
    e = similarity.agreement(labels, a, b)
    assert e["same_wrong"] == 1
    assert np.isclose(e["expected_same_wrong"], 4 * 0.5 * 0.25)  # class 1: a never errs
    assert np.isclose(e["expected_agreement"], (4 * (0.5 * 0.75 + 0.5 * 0.25) + 2 * 0.5) / 6)


def test_two_models_that_both_predict_one_class_agree_by_chance_alone():
    labels = np.arange(300) % 10
    lazy = np.full(300, 3)
    e = similarity.agreement(labels, lazy, lazy.copy())
    assert e["agreement"] == 1.0 and e["expected_agreement"] == 1.0
    assert similarity.find_pairs({}, {"u_a": (labels, lazy), "u_b": (labels, lazy.copy())},
                                 customised={"u_a": True, "u_b": True}) == []


def test_two_untouched_templates_are_not_compared_by_predictions():
    labels = np.arange(200) % 10
    same = (labels + (np.arange(200) % 3 == 0)) % 10
    pairs = similarity.find_pairs({}, {"u_t1": (labels, same), "u_t2": (labels, same)},
                                  customised={"u_t1": False, "u_t2": False})
    assert pairs == []


def test_the_csv_carries_the_evidence(tmp_path):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 500)
    a = predictions(rng, labels, 0.6)
    pairs = similarity.find_pairs({"u_orig": submission(RESNET), "u_copy": submission(RENAMED)},
                                  {"u_orig": (labels, a), "u_copy": (labels, a)},
                                  customised={"u_orig": True, "u_copy": True})
    header, body = similarity.table(pairs)
    row = dict(zip(header, body[0]))
    assert (row["student_a"], row["student_b"], row["flagged_by"]) == ("u_copy", "u_orig",
                                                                      "code+predictions")
    assert row["same_wrong_share"] == 1.0 and row["prediction_agreement"] == 1.0
    assert row["matched_lines"].startswith("model.py:") and row["matched_excerpt"]
    written = tmp_path / "s.csv"
    with written.open("w", newline="") as f:
        csv.writer(f).writerows([header, *body])
    assert list(csv.DictReader(written.open()))[0]["matched_lines"] == row["matched_lines"]
