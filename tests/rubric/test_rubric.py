import textwrap

import pytest

from conftest import REPO, TINY_RUBRIC, write_rubric
from grader.rubric import RubricError, load_rubric


@pytest.mark.parametrize("name", ["cifar10", "fashion_mnist"])
def test_shipped_rubrics_load_by_name(name):
    r = load_rubric(name)
    assert r.name == name and r.dataset.name == name
    assert r.max_points == 100
    assert r.baseline.submission == "reference/baseline.py"
    assert (REPO / r.baseline.submission).is_file()


def test_tiny_rubric_loads_from_a_file(tiny_rubric):
    r = load_rubric(str(tiny_rubric))
    assert r.budget.max_epochs == 5 and r.budget.time_limit_s == 120.0
    assert [c.id for c in r.checks] == ["output_shape", "parameters", "budget"]
    assert r.max_points == 5 + 5 + 5 + 15 + 40


def good() -> str:
    return TINY_RUBRIC.format(time_limit=60)


# (edit to the good rubric, key the error must name, words the problem must contain)
BAD = [
    (lambda t: t + "colour: blue\n", "colour", "unknown key"),
    (lambda t: t.replace("max_epochs: 5", "max_epochs: three"), "budget.max_epochs", "expected an integer"),
    (lambda t: t.replace("max_epochs: 5", "max_epoch: 5"), "budget.max_epoch", "unknown key"),
    (lambda t: t.replace("  max_parameters: 2000000\n", ""), "budget.max_parameters", "missing required key"),
    (lambda t: t.replace("name: fashion_mnist", "name: mnist"), "dataset.name", "unknown data set"),
    (lambda t: t.replace("validation_fraction: 0.1", "validation_fraction: 0.9"),
     "dataset.validation_fraction", "between 0 and 0.5"),
    (lambda t: t.replace("seeds: [0]", "seeds: []"), "seeds", "at least one seed"),
    (lambda t: t.replace("kind: budget", "kind: vibes"), "checks[2].kind", "unknown kind"),
    (lambda t: t.replace("id: budget", "id: parameters"), "checks[2].id", "duplicate"),
    (lambda t: t.replace("min_gain: 2.0", "min_gain: -1.0"), "scoring.gain_tiers", "increasing"),
    (lambda t: t.replace("time_limit_s: 60", "time_limit_s: 0"), "budget.time_limit_s", "positive"),
    (lambda t: t + "baseline: {pinned_accuracy: 62}\n", "baseline.pinned_accuracy", "fraction"),
    (lambda t: t + "checks_extra: 1\n", "checks_extra", "unknown key"),
    (lambda t: t.replace("  - {id: budget, kind: budget, points: 5}",
                         "  - {id: f, kind: module_output_shape, points: 5}"),
     "checks[2].module", "required"),
    (lambda t: t.replace("  - {id: budget, kind: budget, points: 5}",
                         "  - {id: f, kind: module_output_shape, module: features, points: 5, expected: 64x8x8}"),
     "checks[2].expected", "shape like"),
    (lambda t: t.replace("  - {id: budget, kind: budget, points: 5}",
                         "  - {id: f, kind: module_parameters, module: features, points: 5, expected: [1]}"),
     "checks[2].expected", "integer"),
    (lambda t: t.replace("name: fashion_mnist", "name: imagefolder"), "dataset.root", "required"),
    (lambda t: "just a string\n", "(top level)", "expected a mapping"),
    (lambda t: "name: [unclosed\n", "(top level)", "not valid YAML"),
]


@pytest.mark.parametrize("edit,key,problem", BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_invalid_rubric_names_file_key_and_problem(tmp_path, edit, key, problem):
    path = write_rubric(tmp_path, text=edit(good()))
    with pytest.raises(RubricError) as info:
        load_rubric(str(path))
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert f": {key}: " in message, message
    assert problem in message, message


def test_missing_rubric_lists_the_available_ones():
    with pytest.raises(RubricError, match="cifar10, fashion_mnist"):
        load_rubric("no_such_rubric")


def test_digest_changes_with_content(tmp_path):
    a = load_rubric(str(write_rubric(tmp_path, text=good())))
    b = load_rubric(str(write_rubric(tmp_path, text=good().replace("max_epochs: 5", "max_epochs: 4"))))
    assert a.digest() != b.digest()


def test_imagefolder_rubric_needs_matching_mean_and_std(tmp_path):
    text = textwrap.dedent("""\
        name: custom
        dataset: {name: imagefolder, root: /x, image_size: [32, 32], channels: 3,
                  mean: [0.5], std: [0.5, 0.5, 0.5]}
        budget: {max_epochs: 1, max_batch_size: 8, max_parameters: 10}
        scoring: {trains_points: 1}
        """)
    with pytest.raises(RubricError, match="dataset.mean: mean and std need one value per channel"):
        load_rubric(str(write_rubric(tmp_path, text=text)))


def test_every_problem_is_reported_at_once_each_with_its_key(tmp_path):
    text = good() + "colour: blue\n"
    text = text.replace("seeds: [0]", "seeds: []").replace("trains_points: 15", "trains_points: -15")
    text = text.replace("{min_gain: 2.0, points: 40}", "{min_gain: 2.0, points: -40}")
    text = text.replace("{id: budget, kind: budget, points: 5}", "{id: budget, kind: vibes, points: -5}")
    path = write_rubric(tmp_path, text=text)
    with pytest.raises(RubricError) as info:
        load_rubric(str(path))
    e = info.value
    keys = [k for k, _ in e.problems]
    # parsing's problems first, then the declared bounds in the schema's order, then the rules
    assert keys == ["colour", "scoring.trains_points", "scoring.gain_tiers[1].points",
                    "checks[2].points", "seeds", "checks[2].kind"]
    assert (e.key, e.file) == ("colour", str(path)) and "unknown key" in e.problem  # the first
    lines = str(e).splitlines()
    assert len(lines) == 6 and all(line.startswith(f"{path}: ") for line in lines)


def test_type_problems_in_several_places_are_all_reported(tmp_path):
    text = good().replace("max_epochs: 5", "max_epochs: five").replace("epochs: 1", "epochs: one")
    text = text.replace("{id: parameters, kind: max_parameters, points: 5}", "{kind: max_parameters}")
    with pytest.raises(RubricError) as info:
        load_rubric(str(write_rubric(tmp_path, text=text)))
    assert [k for k, _ in info.value.problems] == [
        "budget.max_epochs", "checks[1].id", "checks[1].points", "quick.epochs"]


def test_a_billion_laughs_is_refused_before_anything_expands_it(tmp_path):
    laughs = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
                     for p, c in zip("abcdefgh", "bcdefghi"))
    text = good().replace("  - {id: budget, kind: budget, points: 5}",
                          "  - {id: m, kind: module_parameters, module: fc, points: 5, expected: *i}")
    path = write_rubric(tmp_path, text="a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + laughs + text)
    import time
    start = time.monotonic()
    with pytest.raises(RubricError, match=r"\(top level\): it expands to more than 10,000 values"):
        load_rubric(str(path))
    assert time.monotonic() - start < 2


def test_a_self_referencing_alias_is_refused(tmp_path):
    path = write_rubric(tmp_path, text="x: &x [*x]\n" + good())
    with pytest.raises(RubricError, match="nested more than 32 levels deep"):
        load_rubric(str(path))


def test_huge_files_and_strings_are_refused(tmp_path):
    path = write_rubric(tmp_path, text=good().replace('title: "Tiny test rubric"', f"title: {'x' * 5000}"))
    with pytest.raises(RubricError, match=r": title: 5,000 characters; at most 2,000"):
        load_rubric(str(path))
    path.write_text(good() + "# padding\n" * 200_000)
    with pytest.raises(RubricError, match=r"\(top level\): the file is .* bytes; a rubric is at most"):
        load_rubric(str(path))


def test_a_long_question_is_allowed(tmp_path):
    text = good() + ("manual:\n  - {id: q, points: 5, title: Why, question: " + "w" * 5000 + "}\n")
    assert load_rubric(str(write_rubric(tmp_path, text=text))).manual[0].question == "w" * 5000


def test_docs_rubric_md_is_the_schema_as_generated():
    """docs/rubric.md is written from grader/rubric/schema.py; a key added, renamed or re-described
    there without regenerating the page fails here."""
    from grader.commands import rubric_docs
    page = (REPO / "docs" / "rubric.md").read_text()
    assert page == rubric_docs.render(), (
        "docs/rubric.md is stale: run `python -m grader.commands.rubric_docs > docs/rubric.md`")
    # every key of every section is on the page, with its bounds where it has them
    assert "| `max_epochs` | integer | **required** | ≥ 1 |" in page
    assert "| `margin` | number | `1` | 0 to 10 |" in page
    assert "## `scoring.gain_tiers[]`" in page and "## `baseline.pinned`" in page


@pytest.mark.parametrize("edit,key,problem", [
    (lambda t: t.replace("max_epochs: 5", "max_epochs: 0"), "budget.max_epochs", "must be at least 1, got 0"),
    (lambda t: t + "training: {loader_workers: 99}\n", "training.loader_workers", "between 0 and 32, got 99"),
    (lambda t: t.replace("  - {id: budget, kind: budget, points: 5}",
                         "  - {id: budget, kind: budget, points: -5}"), "checks[2].points", "at least 0"),
    (lambda t: t + "quick: {epochs: 0}\n", "quick.epochs", "at least 1"),
], ids=["max_epochs", "loader_workers", "check points", "quick epochs"])
def test_declared_bounds_are_enforced_with_the_key(tmp_path, edit, key, problem):
    path = write_rubric(tmp_path, text=edit(good()))
    with pytest.raises(RubricError) as info:
        load_rubric(str(path))
    assert f": {key}: {problem}" in str(info.value) or (key in str(info.value) and problem in str(info.value)), str(info.value)
