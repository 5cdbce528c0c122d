"""``guanxi clv fit`` and ``guanxi rfm`` run in-process on CSV files, including bad ones."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifetimes.utils import summary_data_from_transaction_data

from guanxi.analytics import clv, rfm
from guanxi.cli import main

DATASETS = Path(importlib.util.find_spec("lifetimes").origin).parent / "datasets"


def run(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    exit_code = main(["guanxi", *arguments])
    captured = capsys.readouterr()
    return exit_code, captured.out, captured.err


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in a temporary directory so files are named as an analyst would type them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def cdnow_summary_csv(in_tmp: Path) -> str:
    frame = pd.read_csv(DATASETS / "cdnow_customers_summary_with_transactions.csv")
    frame.columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    frame.to_csv(in_tmp / "cdnow_summary.csv", index=False)
    return "cdnow_summary.csv"


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> str:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path.name


# ------------------------------------------------------------------- clv fit


@pytest.mark.parametrize(("model", "published"), [
    ("bgnbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
    ("pareto", {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}),
    ("gammagamma", {"p": 6.25, "q": 3.74, "v": 15.44}),
])
def test_clv_fit_on_a_summary_prints_parameters_and_log_likelihood_as_json(
        capsys: pytest.CaptureFixture[str], cdnow_summary_csv: str, model: str, published: dict[str, float]) -> None:
    exit_code, out, err = run(capsys, "clv", "fit", "--model", model, "--summary", cdnow_summary_csv)
    assert (exit_code, err) == (0, "")
    result = json.loads(out)  # one JSON object and nothing else on standard output
    assert result["model"] == model
    assert result["parameters"] == pytest.approx(published, rel=0.005)
    assert set(result["parameters"]) == set(published)
    if model == "bgnbd":
        assert result["log_likelihood"] == pytest.approx(-9582.43, rel=0.005)
        assert result["customers"] == 2357


def test_clv_fit_on_transactions_builds_the_weekly_summary_like_lifetimes(
        capsys: pytest.CaptureFixture[str], in_tmp: Path) -> None:
    # given the raw CDNOW purchase log as customer_id, date, amount
    log = pd.read_csv(DATASETS / "CDNOW_master.txt", sep=r"\s+", dtype={"customer_id": str, "date": str})
    log["date"] = pd.to_datetime(log["date"], format="%Y%m%d")
    log.rename(columns={"dollar_value": "amount"})[["customer_id", "date", "amount"]].to_csv(
        in_tmp / "cdnow_orders.csv", index=False, date_format="%Y-%m-%d")
    # when fitted in weeks over FHL's calibration period
    exit_code, out, err = run(capsys, "clv", "fit", "--model", "bgnbd", "--transactions", "cdnow_orders.csv",
                              "--period", "weeks", "--observation-end", "1997-09-30")
    assert (exit_code, err) == (0, "")
    result = json.loads(out)
    # then the fit is the one of lifetimes' own weekly summary of the same log
    summary = summary_data_from_transaction_data(log, "customer_id", "date", observation_period_end="1997-09-30",
                                                 freq="W")
    expected = clv.BGNBDModel.fit(summary.frequency, summary.recency, summary["T"])
    assert result["customers"] == len(summary) == 23570
    assert result["period"] == "weeks"
    assert result["parameters"] == pytest.approx(expected.parameters, rel=1e-6)
    assert result["log_likelihood"] == pytest.approx(expected.log_likelihood, rel=1e-9)


def test_bad_amount_names_the_file_row_and_column(capsys: pytest.CaptureFixture[str], in_tmp: Path) -> None:
    # given orders.csv whose 16th data row (row 17 counting the header) has amount "abc"
    rows = [[f"c{index % 5}", f"2024-01-{index + 1:02d}", "12.50"] for index in range(20)]
    rows[15][2] = "abc"
    name = write_csv(in_tmp / "orders.csv", ["customer_id", "date", "amount"], rows)
    exit_code, out, err = run(capsys, "clv", "fit", "--model", "gammagamma", "--transactions", name)
    assert exit_code != 0
    assert out == ""
    assert err.strip() == "orders.csv: row 17, column amount: 'abc' is not a number"


def test_rows_are_counted_as_a_spreadsheet_shows_them_even_after_blank_lines(
        capsys: pytest.CaptureFixture[str], in_tmp: Path) -> None:
    (in_tmp / "orders.csv").write_text(
        "customer_id,date,amount\n1,2024-01-01,5\n\n2,2024-02-30,5\n")
    exit_code, _, err = run(capsys, "rfm", "--transactions", "orders.csv")
    assert exit_code != 0
    assert err.strip() == "orders.csv: row 4, column date: '2024-02-30' is not a valid calendar date"


def test_refunds_that_cancel_a_customers_repeat_spend_name_the_customer(capsys: pytest.CaptureFixture[str],
                                                                          in_tmp: Path) -> None:
    # given customer "k7" whose one repeat purchase was refunded the next day
    rows = [[f"c{index % 25}", f"2024-0{1 + index // 25}-10", "20"] for index in range(50)]
    rows += [["k7", "2024-01-03", "15"], ["k7", "2024-02-05", "40"], ["k7", "2024-02-06", "-40"]]
    name = write_csv(in_tmp / "orders.csv", ["customer_id", "date", "amount"], rows)
    exit_code, _, err = run(capsys, "clv", "fit", "--model", "gammagamma", "--transactions", name)
    assert exit_code == 2
    assert err.startswith("orders.csv: customer k7, monetary_value: 0 is not a positive mean spend")


@pytest.mark.parametrize(("model", "header", "missing"), [
    ("gammagamma", ["customer_id", "date"], "amount"),
    ("bgnbd", ["customer", "date"], "customer_id"),
])
def test_missing_required_column_is_named(capsys: pytest.CaptureFixture[str], in_tmp: Path, model: str,
                                          header: list[str], missing: str) -> None:
    name = write_csv(in_tmp / "orders.csv", header, [["1", "2024-01-01"]])
    exit_code, _, err = run(capsys, "clv", "fit", "--model", model, "--transactions", name)
    assert exit_code != 0
    assert err.startswith(f"orders.csv: missing required column {missing} (found: {', '.join(header)})")


@pytest.mark.parametrize(("cell", "column", "problem"), [
    (("recency", "45"), "recency", "45 is greater than T = 38.86"),
    (("frequency", "1.5"), "frequency", "'1.5' is not a whole number"),
    (("T", ""), "T", "value is missing"),
])
def test_bad_summary_value_names_the_row(capsys: pytest.CaptureFixture[str], cdnow_summary_csv: str,
                                         cell: tuple[str, str], column: str, problem: str) -> None:
    frame = pd.read_csv(cdnow_summary_csv, dtype=str)
    frame.loc[9, cell[0]] = cell[1]  # the tenth customer: row 11 of the file
    frame.to_csv("broken.csv", index=False)
    exit_code, _, err = run(capsys, "clv", "fit", "--model", "bgnbd", "--summary", "broken.csv")
    assert exit_code != 0
    assert err.startswith(f"broken.csv: row 11, column {column}: {problem}")


def test_too_little_history_is_explained_not_fitted(capsys: pytest.CaptureFixture[str], in_tmp: Path) -> None:
    name = write_csv(in_tmp / "few.csv", ["customer_id", "frequency", "recency", "T"],
                     [[index, index % 2, 3 * (index % 2), 10] for index in range(8)])
    exit_code, out, err = run(capsys, "clv", "fit", "--model", "pareto", "--summary", name)
    assert exit_code == 1
    assert out == ""
    assert "Pareto/NBD needs at least 20 customers" in err and "got 8" in err


def test_non_convergence_is_reported_with_the_last_parameters(capsys: pytest.CaptureFixture[str],
                                                               cdnow_summary_csv: str) -> None:
    exit_code, out, err = run(capsys, "clv", "fit", "--model", "bgnbd", "--summary", cdnow_summary_csv,
                              "--max-iterations", "2")
    assert exit_code == 1
    assert out == ""
    assert "did not converge after 2 iterations" in err
    assert all(f"{name}=" in err for name in ("r", "alpha", "a", "b"))


def test_missing_file_and_bad_options(capsys: pytest.CaptureFixture[str], in_tmp: Path) -> None:
    exit_code, _, err = run(capsys, "clv", "fit", "--model", "bgnbd", "--summary", "nowhere.csv")
    assert (exit_code, err.strip()) == (2, "nowhere.csv: no such file")
    exit_code, _, err = run(capsys, "clv", "fit", "--model", "bgnbd")
    assert exit_code == 2 and "one of the arguments --summary --transactions is required" in err
    exit_code, _, err = run(capsys, "clv", "fit", "--model", "nbd", "--summary", "nowhere.csv")
    assert exit_code == 2 and "invalid choice: 'nbd'" in err


# ----------------------------------------------------------------------- rfm


@pytest.fixture
def small_log(in_tmp: Path) -> str:
    # customer 10 bought twice, recently; 9 once long ago; 11 once, big, mid-way; 12 like 9
    return write_csv(in_tmp / "orders.csv", ["customer_id", "date", "amount", "channel"], [
        ["10", "2024-03-01", "20.10", "web"],
        ["9", "2024-01-01", "5", "shop"],
        ["10", "2024-03-31", "0.20", "web"],
        ["11", "2024-02-15 14:30", "300", "phone"],
        ["12", "2024-01-01", "5", "shop"],
    ])


def read_scores(text: str) -> dict[str, dict[str, str]]:
    rows = list(csv.DictReader(text.splitlines()))
    assert list(rows[0]) == ["customer_id", "recency", "frequency", "monetary", "r", "f", "m", "rfm", "tier"]
    return {row["customer_id"]: row for row in rows}


def test_rfm_writes_scores_and_tiers_to_the_output_file(capsys: pytest.CaptureFixture[str], small_log: str,
                                                        in_tmp: Path) -> None:
    exit_code, out, err = run(capsys, "rfm", "--transactions", small_log, "--output", "scores.csv")
    assert (exit_code, out) == (0, "")
    assert "4 customers scored" in err
    scores = read_scores((in_tmp / "scores.csv").read_text())
    assert list(scores) == ["9", "10", "11", "12"]  # numeric ids in numeric order
    assert scores["10"]["recency"] == "0" and scores["9"]["recency"] == "90" and scores["11"]["recency"] == "45"
    assert scores["10"]["frequency"] == "2" and scores["10"]["monetary"] == "20.3"  # not 20.300000000000001
    # four customers: ranks 0..3 score 1, 2, 4, 5 (⌈5j/3⌉, at least 1); 9 and 12 tie on
    # everything, 9, 11 and 12 on frequency, and the smaller id ranks higher
    assert {customer: row["rfm"] for customer, row in scores.items()} == {
        "10": "554", "11": "425", "9": "242", "12": "111"}
    # edges at ⌈4 %⌉ = 1, ⌈20 %⌉ = 1, ⌈80 %⌉ = 1: one platinum customer, no gold or silver
    assert {customer: row["tier"] for customer, row in scores.items()} == {
        "11": "platinum", "10": "bronze", "9": "bronze", "12": "bronze"}


def test_rfm_to_standard_output_with_a_custom_pyramid_and_reference_date(capsys: pytest.CaptureFixture[str],
                                                                         small_log: str) -> None:
    exit_code, out, _ = run(capsys, "rfm", "--transactions", small_log, "--tiers", "vip=50,others=50",
                            "--reference-date", "2024-03-15")
    assert exit_code == 0
    scores = read_scores(out)
    # the purchase of 2024-03-31 is after the reference date and left out
    assert scores["10"]["frequency"] == "1" and scores["10"]["recency"] == "14"
    assert {customer: row["tier"] for customer, row in scores.items()} == {
        "11": "vip", "10": "vip", "9": "others", "12": "others"}


def test_rfm_bad_input(capsys: pytest.CaptureFixture[str], small_log: str, in_tmp: Path) -> None:
    exit_code, _, err = run(capsys, "rfm", "--transactions", small_log, "--tiers", "vip=50,others=40")
    assert exit_code == 2 and "value pyramid shares must add up to 1" in err
    name = write_csv(in_tmp / "refunds.csv", ["customer_id", "date", "amount"],
                     [["1", "2024-01-01", "5"], ["2", "yesterday", "5"]])
    exit_code, _, err = run(capsys, "rfm", "--transactions", name)
    assert (exit_code, err.strip()) == (2, "refunds.csv: row 3, column date: 'yesterday' is not a date "
                                           "(expected YYYY-MM-DD)")
    name = write_csv(in_tmp / "nan.csv", ["customer_id", "date", "amount"], [["1", "2024-01-01", "nan"]])
    exit_code, _, err = run(capsys, "rfm", "--transactions", name)
    assert (exit_code, err.strip()) == (2, "nan.csv: row 2, column amount: 'nan' is not a finite number")
    (in_tmp / "empty.csv").write_text("")
    exit_code, _, err = run(capsys, "rfm", "--transactions", "empty.csv")
    assert exit_code == 2 and err.startswith("empty.csv: the file is empty")


def test_rfm_scores_from_the_cli_equal_the_engine(capsys: pytest.CaptureFixture[str], in_tmp: Path) -> None:
    rng = np.random.default_rng(4)
    customers = rng.integers(1, 200, 2000)
    days = np.datetime64("2024-01-01") + rng.integers(0, 120, 2000)
    amounts = np.round(rng.gamma(2.0, 30.0, 2000), 2)
    name = write_csv(in_tmp / "orders.csv", ["customer_id", "date", "amount"],
                     [[str(c), str(d), f"{a:.2f}"] for c, d, a in zip(customers, days, amounts, strict=True)])
    exit_code, out, _ = run(capsys, "rfm", "--transactions", name)
    assert exit_code == 0
    engine = rfm.rfm_scores(customers, days, amounts)
    scores = read_scores(out)
    assert [int(customer) for customer in scores] == engine.customer_id.tolist()
    assert [int(row["rfm"]) for row in scores.values()] == engine.rfm.tolist()
    assert [row["tier"] for row in scores.values()] == engine.tier_name.tolist()
