"""The value table the shift recommendation and the demo cite: the rows they
pick, what they say, and that the data agrees with README's table."""

import re
from pathlib import Path

from datagov import value_table
from datagov.shift.report import recommend

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_nearest_row_is_nearest_on_a_log_scale():
    names = {n: value_table.nearest_row(n).name for n in (1, 5, 7, 8, 18, 40, 500)}
    assert names[1] == names[5] == names[7] == "5 labels per class"
    assert names[8] == names[18] == "10 labels per class"
    assert names[40] == "50 labels per class"
    assert names[500].startswith("all (~")


def test_an_unshifted_target_gets_its_row_s_best_strategy_and_the_row_is_named():
    row = value_table.nearest_row(5)
    rec = recommend(False, 50, 10)
    assert rec.strategy == row.best and rec.table_row == "5 labels per class"
    assert row.ranking() in rec.why and rec.why.startswith("no shift, and 5 labels per class")
    everything = value_table.nearest_row(1e6)
    assert recommend(False, 10**7, 10).strategy == everything.best


def test_a_shifted_target_falls_back_to_the_rule_and_says_why():
    few, many = recommend(True, 50, 10), recommend(True, 500, 10)
    assert (few.strategy, many.strategy) == ("features", "finetune")
    assert all("measured without shift" in r.why and r.table_row is None for r in (few, many))
    assert recommend(False, 0, 10).strategy is None


def test_the_data_agrees_with_readme_s_table():
    block = README.read_text().split("<!-- results:start -->")[1].split("<!-- results:end -->")[0]
    cells = {}
    for line in block.splitlines():
        if m := re.match(r"\| (\d+|all \(~\d+\)) \|(.*)\|$", line):
            cells[m[1].split()[0]] = re.findall(r"(\d+\.\d) ± (\d+\.\d)", m[2])
    _, rows = value_table.table()
    assert len(rows) == len(cells) == 4
    for row in rows:
        key = "all" if row.everything else f"{row.labels_per_class:g}"
        expected = [(f"{100 * row.scores[s][0]:.1f}", f"{100 * row.scores[s][1]:.1f}") for s in value_table.STRATEGIES]
        assert cells[key] == expected, key


def test_tables_are_keyed_by_dataset_and_encoder_kind():
    keys = set(value_table.tables())
    assert value_table.DEFAULT_KEY in keys
    assert {"fashion-mnist/mlp", "fashion-mnist/conv"} <= keys
    fashion = value_table.tables()["fashion-mnist/conv"]
    assert fashion.meta["image_shape"] == "1x28x28" and [r.labels_per_class for r in fashion.rows] == [5, 10, 50, 6000]
    assert [r.everything for r in fashion.rows] == [False, False, False, True]


def test_a_recommendation_cites_the_table_measured_on_images_like_the_target():
    fashion = recommend(False, 50, 10, shape="1x28x28")
    assert fashion.table is not None and fashion.table.startswith("fashion-mnist/")
    assert f"the value table {fashion.table} (Fashion-MNIST" in fashion.why and "a guide" not in fashion.why
    conv = recommend(False, 50, 10, shape="1x28x28", encoder_kind="conv")
    assert conv.table == "fashion-mnist/conv"
    row = value_table.tables()[fashion.table].nearest_row(5)
    if row.pixels and row.pixels[0] > row.scores[row.best][0]:  # as measured: say so
        assert f"a logistic regression on raw pixels scored {100 * row.pixels[0]:.1f}" in fashion.why
    elsewhere = recommend(False, 50, 10, shape="3x64x64")
    assert elsewhere.table == "digits/mlp" and "so it is a guide, not a prediction" in elsewhere.why


FASHION_TABLE_BLOCKS = ("results-fashion", "results-fashion-resnet")  # MLP and conv; ResNet-18 at a CPU budget


def test_the_fashion_data_agrees_with_readme_s_table():
    text = README.read_text()
    blocks = [text.split(f"<!-- {b}:start -->")[1].split(f"<!-- {b}:end -->")[0] for b in FASHION_TABLE_BLOCKS]
    cells = {}
    for line in "\n".join(blocks).splitlines():
        if m := re.match(r"\| (\w+) \| (\d+|all \([\d,]+\)) \|(.*)\|$", line):  # all (6,000): every label
            cells[(m[1], int(re.sub(r"\D", "", m[2])))] = re.findall(r"(\d+\.\d) ± (\d+\.\d)", m[3])
    fashion = {k: t for k, t in value_table.tables().items() if k.startswith("fashion-mnist/")}
    assert len(cells) == sum(len(t.rows) for t in fashion.values())
    for t in fashion.values():
        for row in t.rows:
            shown = cells[(t.encoder_kind, int(row.labels_per_class))][1:4]  # after pixels, before the probe
            stored = [value for s in value_table.STRATEGIES for value in row.scores[s]]
            # the data is rounded, README rounds the full value: they may differ by one in the last digit
            texts = [text for pair in shown for text in pair]
            assert all(abs(float(a) - 100 * b) <= 0.051 for a, b in zip(texts, stored, strict=True)), (shown, stored)


def test_a_resnet_recommendation_cites_its_own_table_with_its_budget():
    resnet = value_table.tables()["fashion-mnist/resnet18"]
    for labelled in (50, 500):
        rec = recommend(False, labelled, 10, shape="1x28x28", encoder_kind="resnet18")
        assert rec.table == "fashion-mnist/resnet18" and rec.table_row == resnet.nearest_row(labelled / 10).name
        assert resnet.meta["encoder"] in rec.why  # what it was pretrained on travels with the numbers
