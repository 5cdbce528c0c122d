"""``guanxi clv`` and ``guanxi rfm``: the analytics engines for analysts, without starting Django.

guanxi clv fit --model bgnbd|pareto|gammagamma --summary FILE.csv
guanxi clv fit --model bgnbd|pareto|gammagamma --transactions FILE.csv [--period days|weeks]
guanxi rfm --transactions FILE.csv [--output scores.csv]

Input is UTF-8 CSV with a header row; column names are matched without regard to case or
surrounding spaces, and extra columns are ignored. Rows are numbered as a spreadsheet shows
them (the header is row 1), and every problem is reported as
``FILE: row N, column NAME: what is wrong``.

Exit codes: 0 success; 1 the model could not be fitted (too little history, no
convergence — the message says why and gives the last parameters); 2 bad command line or
bad input file.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import numpy as np
from numpy.typing import NDArray

from guanxi.analytics import clv, rfm

EXIT_MODEL_FAILED = 1
EXIT_BAD_INPUT = 2

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")


class InputFileError(Exception):
    """A problem with an input file, already worded for the analyst."""


@dataclass(frozen=True)
class CsvColumns:
    """Raw text of the wanted columns of a CSV file, with each record's row number."""

    path: str
    values: dict[str, list[str]]
    row_numbers: array

    def __len__(self) -> int:
        return len(self.row_numbers)

    def fail(self, position: int, column: str, problem: str) -> InputFileError:
        return InputFileError(f"{self.path}: row {self.row_numbers[position]}, column {column}: {problem}")


def read_csv_columns(path: str, required: Sequence[str]) -> CsvColumns:
    """Read the ``required`` columns (others are ignored); blank lines are skipped."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return _read_columns(path, handle, required)
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise InputFileError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except csv.Error as error:
        raise InputFileError(f"{path}: not a readable CSV file ({error})") from None
    except OSError as error:
        raise InputFileError(f"{path}: cannot read ({error.strerror})") from None


def _read_columns(path: str, handle: TextIO, required: Sequence[str]) -> CsvColumns:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        raise InputFileError(f"{path}: the file is empty; expected a header row with {', '.join(required)}")
    position_of = {name.strip().lower(): index for index, name in reversed(list(enumerate(header)))}
    missing = [name for name in required if name.lower() not in position_of]
    if missing:
        found = ", ".join(name.strip() for name in header) or "nothing"
        plural = "s" if len(missing) > 1 else ""
        raise InputFileError(f"{path}: missing required column{plural} {', '.join(missing)} (found: {found})")
    indexes = [position_of[name.lower()] for name in required]
    values: dict[str, list[str]] = {name: [] for name in required}
    columns = [values[name] for name in required]
    row_numbers = array("q")
    for record in reader:
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        row_numbers.append(reader.line_num)
        for index, name, column in zip(indexes, required, columns, strict=True):
            if index >= len(record) or not record[index].strip():
                raise InputFileError(f"{path}: row {reader.line_num}, column {name}: value is missing")
            column.append(record[index])
    if not row_numbers:
        raise InputFileError(f"{path}: no data rows after the header")
    return CsvColumns(path=path, values=values, row_numbers=row_numbers)


def parse_numbers(table: CsvColumns, column: str, *, whole: bool = False) -> NDArray[np.float64]:
    """The column as floats; NumPy's C parser does the work, Python only finds a bad row."""
    texts = table.values[column]
    try:
        numbers = np.array(texts, dtype=np.float64)
    except ValueError:
        for position, text in enumerate(texts):
            try:
                float(text)
            except ValueError:
                raise table.fail(position, column, f"{text.strip()!r} is not a number") from None
        raise
    not_finite = ~np.isfinite(numbers)
    if not_finite.any():
        position = int(np.flatnonzero(not_finite)[0])
        raise table.fail(position, column, f"{texts[position].strip()!r} is not a finite number")
    if whole:
        fractional = numbers != np.floor(numbers)
        if fractional.any():
            position = int(np.flatnonzero(fractional)[0])
            raise table.fail(position, column, f"{texts[position].strip()!r} is not a whole number")
    return numbers


def parse_dates(table: CsvColumns, column: str) -> NDArray[np.datetime64]:
    """The column as calendar days; accepts YYYY-MM-DD, optionally with a time of day."""
    texts = table.values[column]
    for position, text in enumerate(texts):
        if not _DATE.fullmatch(text.strip()):
            raise table.fail(position, column, f"{text.strip()!r} is not a date (expected YYYY-MM-DD)")
    try:
        return np.array([text.strip() for text in texts], dtype="datetime64[s]").astype("datetime64[D]")
    except ValueError:
        for position, text in enumerate(texts):
            try:
                np.datetime64(text.strip(), "s")
            except ValueError:
                raise table.fail(position, column, f"{text.strip()!r} is not a valid calendar date") from None
        raise


def parse_customer_ids(table: CsvColumns, column: str) -> NDArray:
    """Integer ids when every id is a plain integer (so 9 sorts before 10), else the text."""
    texts = [text.strip() for text in table.values[column]]
    try:
        numbers = np.array(texts, dtype=np.int64)
    except (ValueError, OverflowError):
        return np.array(texts)
    # "007" or "+7" would not survive the round trip; keep such ids as text.
    if np.array_equal(numbers.astype(str), np.array(texts)):
        return numbers
    return np.array(texts)


# ----------------------------------------------------------------------- clv fit

MODELS = ("bgnbd", "pareto", "gammagamma")


def _clv_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guanxi clv", description="Customer lifetime value models.")
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser(
        "fit", help="fit a model and print its parameters and log-likelihood as JSON",
        description="Fit BG/NBD, Pareto/NBD or Gamma-Gamma by maximum likelihood; prints one JSON object.")
    fit.add_argument("--model", required=True, choices=MODELS)
    source = fit.add_mutually_exclusive_group(required=True)
    source.add_argument("--summary", metavar="FILE.csv",
                        help="one row per customer: customer_id, frequency, recency, T (and monetary_value for "
                             "gammagamma)")
    source.add_argument("--transactions", metavar="FILE.csv",
                        help="one row per purchase: customer_id, date, amount (amount needed for gammagamma)")
    fit.add_argument("--period", choices=("days", "weeks"), default="days",
                     help="time unit for a summary built from --transactions (default: days)")
    fit.add_argument("--observation-end", metavar="YYYY-MM-DD",
                     help="end of observation for --transactions (default: the latest purchase)")
    fit.add_argument("--max-iterations", type=int, default=clv.DEFAULT_MAX_ITERATIONS)
    return parser


def _parse_arguments(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace | int:
    try:
        return parser.parse_args(list(argv))
    except SystemExit as exit_request:
        # argparse exits on --help (0) and on usage errors (2); as a function we return instead.
        return int(exit_request.code or 0)


def _fit_summary_file(path: str, model: str, max_iterations: int
                      ) -> clv.BGNBDModel | clv.ParetoNBDModel | clv.GammaGammaModel:
    required = ["customer_id", "frequency", "recency", "T"] + (["monetary_value"] if model == "gammagamma" else [])
    table = read_csv_columns(path, required)
    frequency = parse_numbers(table, "frequency", whole=True)
    try:
        if model == "gammagamma":
            return clv.GammaGammaModel.fit(frequency, parse_numbers(table, "monetary_value"),
                                           max_iterations=max_iterations)
        purchase_model = clv.BGNBDModel if model == "bgnbd" else clv.ParetoNBDModel
        return purchase_model.fit(frequency, parse_numbers(table, "recency"), parse_numbers(table, "T"),
                                  max_iterations=max_iterations)
    except clv.InvalidSummaryError as error:
        # Summary rows map one to one to the file's records, so the row can be named.
        raise table.fail(error.position, error.column, error.problem) from None


def _fit_transactions_file(path: str, model: str, period: clv.Period, observation_end: str | None,
                           max_iterations: int) -> clv.BGNBDModel | clv.ParetoNBDModel | clv.GammaGammaModel:
    needs_amount = model == "gammagamma"
    table = read_csv_columns(path, ["customer_id", "date", *(["amount"] if needs_amount else [])])
    summary = clv.summary_from_transactions(
        parse_customer_ids(table, "customer_id"), parse_dates(table, "date"),
        parse_numbers(table, "amount") if needs_amount else None,
        period=period, observation_end=observation_end)
    try:
        if model == "gammagamma":
            return clv.GammaGammaModel.fit(summary.frequency, summary.monetary_value, max_iterations=max_iterations)
        purchase_model = clv.BGNBDModel if model == "bgnbd" else clv.ParetoNBDModel
        return purchase_model.fit(summary.frequency, summary.recency, summary.T, max_iterations=max_iterations)
    except clv.InvalidSummaryError as error:
        # Refunds can leave a customer's mean repeat spend at or below zero; name the customer.
        customer = summary.customer_id[error.position]
        raise InputFileError(f"{path}: customer {customer}, {error.column}: {error.problem}") from None


def clv_main(argv: Sequence[str]) -> int:
    """Entry point of ``guanxi clv``; returns the exit code."""
    arguments = _parse_arguments(_clv_parser(), argv)
    if isinstance(arguments, int):
        return arguments
    if arguments.observation_end is not None and not _DATE.fullmatch(arguments.observation_end):
        print(f"guanxi clv: --observation-end {arguments.observation_end!r} is not a date (expected YYYY-MM-DD)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        if arguments.summary is not None:
            fitted = _fit_summary_file(arguments.summary, arguments.model, arguments.max_iterations)
            period = None
        else:
            fitted = _fit_transactions_file(arguments.transactions, arguments.model, arguments.period,
                                            arguments.observation_end, arguments.max_iterations)
            period = arguments.period
    except InputFileError as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
    except clv.ModelFitError as error:
        print(f"guanxi clv: {error}", file=sys.stderr)
        return EXIT_MODEL_FAILED
    print(json.dumps({
        "model": arguments.model,
        "parameters": fitted.parameters,
        "log_likelihood": fitted.log_likelihood,
        "customers": fitted.customers,
        "iterations": fitted.iterations,
        "period": period,
    }))
    return 0


# --------------------------------------------------------------------------- rfm


def _pyramid(text: str) -> tuple[tuple[str, float], ...]:
    """Parse ``platinum=1,gold=4,silver=15,bronze=80`` (percentages, best tier first)."""
    tiers = []
    for part in text.split(","):
        name, _, percent = part.partition("=")
        try:
            tiers.append((name.strip(), float(percent) / 100.0))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part.strip()!r} is not NAME=PERCENT") from None
    try:
        rfm.validate_pyramid(tiers)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return tuple(tiers)


def _rfm_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="guanxi rfm", description="Recency, frequency and monetary quintile scores with value pyramid tiers.")
    parser.add_argument("--transactions", required=True, metavar="FILE.csv",
                        help="one row per purchase: customer_id, date, amount")
    parser.add_argument("--output", metavar="scores.csv", help="where to write the scores (default: standard output)")
    parser.add_argument("--reference-date", metavar="YYYY-MM-DD",
                        help="the 'today' of recency (default: the latest purchase)")
    default_tiers = ",".join(f"{name}={share * 100:g}" for name, share in rfm.DEFAULT_PYRAMID)
    parser.add_argument("--tiers", type=_pyramid, default=rfm.DEFAULT_PYRAMID, metavar="NAME=PERCENT,…",
                        help=f"value pyramid by monetary value, best tier first (default: {default_tiers})")
    return parser


RFM_COLUMNS = ("customer_id", "recency", "frequency", "monetary", "r", "f", "m", "rfm", "tier")


def _write_scores(scores: rfm.RFMScores, handle: TextIO) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(RFM_COLUMNS)
    monetary = scores.monetary.tolist()
    writer.writerows(zip(scores.customer_id.tolist(), scores.recency.tolist(), scores.frequency.tolist(), monetary,
                         scores.r.tolist(), scores.f.tolist(), scores.m.tolist(), scores.rfm.tolist(),
                         scores.tier_name.tolist(), strict=True))


def rfm_main(argv: Sequence[str]) -> int:
    """Entry point of ``guanxi rfm``; returns the exit code."""
    arguments = _parse_arguments(_rfm_parser(), argv)
    if isinstance(arguments, int):
        return arguments
    if arguments.reference_date is not None and not _DATE.fullmatch(arguments.reference_date):
        print(f"guanxi rfm: --reference-date {arguments.reference_date!r} is not a date (expected YYYY-MM-DD)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        table = read_csv_columns(arguments.transactions, ["customer_id", "date", "amount"])
        scores = rfm.rfm_scores(parse_customer_ids(table, "customer_id"), parse_dates(table, "date"),
                                parse_numbers(table, "amount"), reference_date=arguments.reference_date,
                                pyramid=arguments.tiers)
    except InputFileError as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as error:
        print(f"guanxi rfm: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if arguments.output is None:
        _write_scores(scores, sys.stdout)
        return 0
    try:
        with open(arguments.output, "w", newline="", encoding="utf-8") as handle:
            _write_scores(scores, handle)
    except OSError as error:
        print(f"{arguments.output}: cannot write ({error.strerror})", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"{len(scores)} customers scored; written to {arguments.output}", file=sys.stderr)
    return 0
