"""Calculation methods: how a student's scores on one outcome become one mastery value.

Pure functions of their input, standard library only, no I/O. Each method is documented
with its formula and a worked example in ``docs/calculation-methods.md``.

Conventions shared by every method:

* ``scores`` are the student's counted scores on one outcome in time order, oldest first
  (s1 ... sn). Only ``assessment_weighted`` reads ``Score.weight``; every other method counts
  every score it is given (the caller filters out what should not count).
* Every score must lie within the scale's range; a score outside it is a data error and raises
  ``ValueError`` rather than producing a silently wrong value.
* No scores at all gives no value and the status ``NO_EVIDENCE``, for every method.
* Arithmetic is exact (``fractions.Fraction`` over the exact ``Decimal`` scores), so no
  intermediate step is ever rounded. Only the final value is rounded, once, to 2 decimal
  places, half away from zero (4.125 -> 4.13, -4.125 -> -4.13), never with ``round()``.
  The trend fits (power law, true score) use float ``log``/``exp`` internally.
* Each calculation also says how much each input score weighs in the result
  (``Calculation.contributions``): for every method that is a weighted sum of the scores,
  Σ contributionᵢ·sᵢ is exactly the unrounded result and the contributions sum to 1.
"""

from __future__ import annotations

import enum
import math
import statistics
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from typing import ClassVar, TypeAlias

__all__ = [
    "DECIMAL_PLACES",
    "DEFAULT_W",
    "METHOD_NAMES",
    "AssessmentWeighted",
    "Calculation",
    "DecayingAverage",
    "Highest",
    "Mean",
    "Median",
    "Method",
    "Mode",
    "MostRecent",
    "NMastery",
    "ParamValue",
    "PowerLaw",
    "ScaleRange",
    "Score",
    "Status",
    "TrueScoreEstimate",
    "WeightedAverage",
    "WindowedHighest",
    "WindowedMean",
    "WindowedMedian",
    "WindowedMode",
    "mastered",
    "method_from_spec",
    "round_final",
]

#: Default weight of the newest score for ``weighted_average`` and ``decaying_average``.
DEFAULT_W = Decimal("0.65")
#: Significant digits of a contribution whose exact value has no finite decimal form (1/3).
PRECISION = 28
#: Final values are rounded to this many decimal places (and only final values).
DECIMAL_PLACES = 2
QUANTUM = Decimal(1).scaleb(-DECIMAL_PLACES)
#: Total absolute errors closer than this are treated as equal when choosing a trend model.
_ERROR_TOLERANCE = Fraction(1, 10**9)

ParamValue: TypeAlias = str | int | float | Decimal
#: A number the methods compute with: exact, so nothing is rounded before the end.
Exact: TypeAlias = Fraction


def _context() -> Context:
    return Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)


def round_final(value: Decimal | Fraction, places: int = DECIMAL_PLACES) -> Decimal:
    """``value`` rounded to ``places`` decimals, ties away from zero, computed exactly.

    4.125 -> 4.13 and -4.125 -> -4.13 (Python's ``round(4.125, 2)`` gives 4.12: binary floats
    and banker's rounding). Works on the exact value, so 1/3 -> 0.33 and 0.125 -> 0.13; a
    result of zero is never negative ("-0.004" -> "0.00").
    """
    # The exact ratio, without building Fractions (this runs for every standing computed).
    if isinstance(value, Fraction):
        numerator, denominator = value.numerator, value.denominator
    else:
        numerator, denominator = value.as_integer_ratio()
    whole, remainder = divmod(abs(numerator) * 10**places, denominator)
    if 2 * remainder >= denominator:
        whole += 1
    sign = "-" if numerator < 0 and whole else ""
    return Decimal(f"{sign}{whole}E-{places}")


def _quantize(value: Decimal | Fraction) -> Decimal:
    """The final value: ``round_final`` to 2 places. Only ever applied to final values."""
    return round_final(value)


def _as_decimal(value: Fraction) -> Decimal:
    """``value`` as a Decimal: exact when its decimal expansion ends (1/8 -> 0.125,
    0.35³ -> 0.042875), otherwise to 28 significant digits (1/3 -> 0.3333…3)."""
    denominator = value.denominator
    if denominator == 1:  # a whole number (most weights are 0 or 1): Decimal("nE-0") is Decimal(n)
        return Decimal(value.numerator)
    twos = (denominator & -denominator).bit_length() - 1
    odd = denominator >> twos
    fives = round(math.log(odd, 5)) if odd > 1 else 0
    if 5**fives == odd:  # the denominator is 2^a·5^b: a finite decimal
        places = max(twos, fives)
        digits = value.numerator * (10**places // denominator)
        return Decimal(f"{digits}E-{places}")  # no trailing zeros: digits is not a multiple of 10
    with localcontext(_context()):
        return Decimal(value.numerator) / Decimal(value.denominator)


def _fmt(value: Decimal | Fraction) -> str:
    """A number as a person writes it: 3.30 -> "3.3", 3.00 -> "3", no exponent.

    An exact intermediate (a Fraction) is shown rounded to 2 places like a final value.
    """
    shown = round_final(value) if isinstance(value, Fraction) else value
    text = f"{shown.normalize(_context()):f}"
    return "0" if text == "-0" else text


def _fmt_list(values: Sequence[Decimal]) -> str:
    return ", ".join(_fmt(v) for v in values)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class Status(enum.Enum):
    CALCULATED = "calculated"
    NO_EVIDENCE = "no_evidence"
    NOT_ENOUGH_EVIDENCE = "not_enough_evidence"
    NEEDS_TEACHER_JUDGMENT = "needs_teacher_judgment"


def _require_finite_decimal(owner: str, field: str, value: object) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"{owner}.{field} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{owner}.{field} must be a finite number, got {value}")
    return value


@dataclass(frozen=True)
class Score:
    """One counted score. ``weight`` is only read by ``assessment_weighted`` (0 = formative)."""

    value: Decimal
    weight: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        _require_finite_decimal("Score", "value", self.value)
        weight = _require_finite_decimal("Score", "weight", self.weight)
        if weight < 0:
            raise ValueError(f"Score.weight must not be negative, got {weight}")


@dataclass(frozen=True)
class ScaleRange:
    """The range of a proficiency scale, its mastery threshold and its step (e.g. 0.5)."""

    minimum: Decimal
    maximum: Decimal
    mastery_threshold: Decimal
    step: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("minimum", "maximum", "mastery_threshold"):
            _require_finite_decimal("ScaleRange", name, getattr(self, name))
        if not self.minimum < self.maximum:
            raise ValueError(
                f"ScaleRange.minimum ({self.minimum}) must be below maximum ({self.maximum})"
            )
        if not self.minimum <= self.mastery_threshold <= self.maximum:
            raise ValueError(
                f"ScaleRange.mastery_threshold ({self.mastery_threshold}) must lie within "
                f"{self.minimum}..{self.maximum}"
            )
        if self.step is not None:
            step = _require_finite_decimal("ScaleRange", "step", self.step)
            if step <= 0:
                raise ValueError(f"ScaleRange.step must be positive, got {step}")

    def clamp(self, value: Decimal) -> Decimal:
        return min(max(value, self.minimum), self.maximum)

    def clamp_exact(self, value: Fraction) -> Fraction:
        return min(max(value, Fraction(self.minimum)), Fraction(self.maximum))

    def contains(self, value: Decimal) -> bool:
        return self.minimum <= value <= self.maximum


Contribution: TypeAlias = Fraction | Decimal | int | None


@dataclass(frozen=True)
class Calculation:
    """The result of one method: a value (or None, with the reason in ``status``), one
    plain-language sentence saying how it was reached, and each score's weight in it.

    * ``value``: the final value, rounded to 2 decimals (half away from zero).
    * ``contributions``: one entry per input score, in input order: the score's weight in the
      result, so that Σ contributionᵢ·sᵢ is the unrounded result. Exact whenever the weight has
      a finite decimal form, otherwise to 28 significant digits (1/3). ``None`` for a score
      that is not part of a weighted sum (a fitted trend, or a result without a value);
      ``0`` for a score shown but not counted (outside a window, below mastery, formative).
    * ``exact_contributions``: the same weights as exact fractions (1/3 stays 1/3).
    * ``unrounded``: the exact value before the final rounding (for ``true_score_estimate``
      before rounding to the scale's step as well); ``None`` without a value.
    """

    value: Decimal | None
    status: Status
    method: str
    explanation: str
    contributions: tuple[Decimal | None, ...] = ()
    exact_contributions: tuple[Fraction | None, ...] = field(default=(), repr=False)
    unrounded: Fraction | None = field(default=None, repr=False)

    @classmethod
    def calculated(
        cls,
        method: str,
        value: Decimal | Fraction,
        explanation: str,
        contributions: Sequence[Contribution] = (),
        *,
        unrounded: Decimal | Fraction | None = None,
    ) -> Calculation:
        """A calculated result; ``value`` is rounded here, and only here."""
        exact = tuple(None if c is None else Fraction(c) for c in contributions)
        return cls(
            _quantize(value),
            Status.CALCULATED,
            method,
            explanation,
            tuple(None if c is None else _as_decimal(c) for c in exact),
            exact,
            Fraction(value if unrounded is None else unrounded),
        )

    @classmethod
    def without_value(
        cls, method: str, status: Status, explanation: str, score_count: int = 0
    ) -> Calculation:
        """No value (the reason is ``status``); each of the ``score_count`` scores weighs None."""
        if status is Status.CALCULATED:
            raise ValueError("a calculation without a value cannot have the status CALCULATED")
        return cls(None, status, method, explanation, (None,) * score_count, (None,) * score_count)


def mastered(calculation: Calculation, scale: ScaleRange) -> bool:
    """True when the calculation has a value at or above the scale's mastery threshold.

    Compares the final (rounded) value: the number a teacher sees is the number that counts.
    """
    return calculation.value is not None and calculation.value >= scale.mastery_threshold


# --- shared arithmetic -------------------------------------------------------------------


def _values(scores: Sequence[Score]) -> list[Decimal]:
    return [score.value for score in scores]


def _exact(values: Sequence[Decimal]) -> list[Fraction]:
    return [Fraction(v) for v in values]


def _mean(values: Sequence[Decimal | Fraction]) -> Fraction:
    """The exact mean, summed as one integer ratio and reduced once (a Fraction per term,
    each reduced, cost most of a mean-policy standing)."""
    numerator, denominator = 0, 1
    for value in values:
        if isinstance(value, Fraction):
            top, bottom = value.numerator, value.denominator
        else:
            top, bottom = value.as_integer_ratio()
        if bottom == denominator:
            numerator += top
        else:
            numerator, denominator = numerator * bottom + top * denominator, denominator * bottom
    return Fraction(numerator, denominator * len(values))


def _share(count: int) -> Fraction:
    return Fraction(1, count)


def _linear_predictions(values: Sequence[Decimal]) -> list[Fraction]:
    """Exact least-squares line of score against attempt index 1..n (n >= 2), at 1..n."""
    ys = _exact(values)
    n = len(ys)
    mean_x, mean_y = Fraction(n + 1, 2), _mean(ys)
    xs = range(1, n + 1)
    sxy = sum(((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)), Fraction(0))
    sxx = sum(((x - mean_x) ** 2 for x in xs), Fraction(0))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    return [intercept + slope * x for x in xs]


def _power_law_shift(scale: ScaleRange) -> Decimal:
    """What is added to every score before taking its log: the scale minimum maps to 1."""
    with localcontext(_context()):
        return 1 - scale.minimum


def _power_law_predictions(values: Sequence[Decimal], scale: ScaleRange) -> list[float]:
    """Fitted power-law values at attempts 1..n (n >= 2), before clamping.

    Fits ln(s + shift) = a + b·ln(i) by least squares, where shift = 1 − scale minimum, and
    maps each fitted value back with exp(·) − shift. On a scale starting at 0 this is the
    "+1 before the log, −1 after" convention, so a score of 0 is ln(1) = 0, a finite point.
    """
    shift = float(_power_law_shift(scale))
    log_x = [math.log(i) for i in range(1, len(values) + 1)]
    log_y = [math.log(float(v) + shift) for v in values]
    mean_lx, mean_ly = math.fsum(log_x) / len(log_x), math.fsum(log_y) / len(log_y)
    sxy = math.fsum((lx - mean_lx) * (ly - mean_ly) for lx, ly in zip(log_x, log_y, strict=True))
    sxx = math.fsum((lx - mean_lx) ** 2 for lx in log_x)
    slope = sxy / sxx
    intercept = mean_ly - slope * mean_lx
    return [_safe_exp(intercept + slope * lx) - shift for lx in log_x]


def _safe_exp(exponent: float) -> float:
    try:
        return math.exp(exponent)
    except OverflowError:
        return math.inf


def _fitted(value: float, scale: ScaleRange) -> Fraction:
    """A fitted float as an exact number, via its shortest repr; an overflow (infinity),
    which only a fit far off the scale can produce, becomes the nearer end of the scale."""
    if math.isinf(value):
        return Fraction(scale.maximum if value > 0 else scale.minimum)
    return Fraction(Decimal(repr(value)))


def _round_to_step(value: Fraction, step: Decimal) -> Fraction:
    """``value`` to the nearest multiple of ``step``, ties away from zero (exactly)."""
    multiples = round_final(value / Fraction(step), places=0)
    return Fraction(multiples) * Fraction(step)


def _clamp_note(raw: Fraction, scale: ScaleRange) -> str:
    """Says so when a fitted value had to be brought back onto the scale."""
    if raw > Fraction(scale.maximum):
        return f" (capped at the top of the scale, {_fmt(scale.maximum)})"
    if raw < Fraction(scale.minimum):
        return f" (raised to the bottom of the scale, {_fmt(scale.minimum)})"
    return ""


# --- methods -------------------------------------------------------------------------------


class Method(ABC):
    """A calculation method: a stable ``name``, its ``params`` and ``calculate``."""

    name: ClassVar[str]

    @property
    def params(self) -> Mapping[str, Decimal | int]:
        """The method's parameters; ``method_from_spec(m.name, m.params)`` rebuilds ``m``."""
        return {}

    def calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        for position, score in enumerate(scores, start=1):
            if not scale.contains(score.value):
                raise ValueError(
                    f"score {_fmt(score.value)} (attempt {position}) is outside the scale "
                    f"range {_fmt(scale.minimum)} to {_fmt(scale.maximum)}"
                )
        if not scores:
            return self._no_evidence()
        return self._calculate(scores, scale)

    @abstractmethod
    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        """``calculate`` for a non-empty sequence of in-range scores."""

    def _no_evidence(self) -> Calculation:
        return Calculation.without_value(
            self.name,
            Status.NO_EVIDENCE,
            "there are no scores yet, so there is nothing to calculate",
        )

    def _calculated(
        self, value: Fraction | Decimal, explanation: str, contributions: Sequence[Contribution]
    ) -> Calculation:
        return Calculation.calculated(self.name, value, explanation, contributions)

    def _without_value(self, status: Status, explanation: str, count: int) -> Calculation:
        return Calculation.without_value(self.name, status, explanation, count)


def _only(count: int, index: int) -> list[Contribution]:
    """Weight 1 on the score at ``index``, 0 on the others."""
    return [1 if i == index else 0 for i in range(count)]


@dataclass(frozen=True)
class MostRecent(Method):
    """sn, the newest score."""

    name: ClassVar[str] = "most_recent"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        n = len(scores)
        latest = scores[-1].value
        return self._calculated(
            latest, f"most recent score {_fmt(latest)} (attempt {n} of {n})", _only(n, n - 1)
        )


@dataclass(frozen=True)
class Highest(Method):
    """max(s1 ... sn); the earliest attempt that reached it carries the weight."""

    name: ClassVar[str] = "highest"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        best = max(values)
        first = values.index(best)
        note = f" (first reached at attempt {first + 1})" if values.count(best) > 1 else ""
        return self._calculated(
            best,
            f"highest of {_fmt_list(values)} = {_fmt(best)}{note}",
            _only(len(values), first),
        )


@dataclass(frozen=True)
class Mean(Method):
    """The arithmetic mean."""

    name: ClassVar[str] = "mean"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        mean = _mean(values)
        return self._calculated(
            mean,
            f"mean of {_fmt_list(values)} = {_fmt(mean)}",
            [_share(len(values))] * len(values),
        )


@dataclass(frozen=True)
class Median(Method):
    """The middle value; the mean of the two middle values for an even count.

    Equal scores keep their time order when sorted, so the contributions name a definite
    attempt: the earlier of two equal scores ranks first.
    """

    name: ClassVar[str] = "median"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        n = len(values)
        ranked = sorted(range(n), key=lambda i: values[i])
        half = n // 2
        middle = ranked[half : half + 1] if n % 2 else ranked[half - 1 : half + 1]
        median = _mean([values[i] for i in middle])
        weights: list[Contribution] = [_share(len(middle)) if i in middle else 0 for i in range(n)]
        sorted_text = _fmt_list(sorted(values))
        if len(middle) == 1:
            return self._calculated(
                median, f"median (middle value) of {sorted_text} = {_fmt(median)}", weights
            )
        low, high = (values[i] for i in middle)
        return self._calculated(
            median,
            f"median of {sorted_text} = mean of the two middle values "
            f"{_fmt(low)} and {_fmt(high)} = {_fmt(median)}",
            weights,
        )


@dataclass(frozen=True)
class Mode(Method):
    """The most frequent value; a tie needs a teacher's judgment (never a silent pick)."""

    name: ClassVar[str] = "mode"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        modes = statistics.multimode(values)
        count = sum(1 for v in values if v == modes[0])
        if len(modes) > 1:
            tied = sorted(modes)
            return self._without_value(
                Status.NEEDS_TEACHER_JUDGMENT,
                f"scores {_fmt_list(tied[:-1])} and {_fmt(tied[-1])} are tied as most frequent "
                f"({_plural(count, 'time')} each), so a teacher needs to decide",
                len(values),
            )
        return self._calculated(
            modes[0],
            f"most frequent score {_fmt(modes[0])} ({count} of {_plural(len(values), 'score')})",
            [_share(count) if v == modes[0] else 0 for v in values],
        )


def _validate_w(w: object) -> Decimal:
    if not isinstance(w, Decimal) or not w.is_finite() or not 0 < w < 1:
        raise ValueError(f"parameter 'w' must be a Decimal strictly between 0 and 1, got {w!r}")
    return w


def _validate_count(parameter: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"parameter {parameter!r} must be a whole number of at least 1, got {value!r}"
        )
    return value


@dataclass(frozen=True)
class WeightedAverage(Method):
    """What Canvas stores as ``decaying_average``: w·sn + (1−w)·mean(s1 ... sn−1)."""

    name: ClassVar[str] = "weighted_average"
    w: Decimal = DEFAULT_W

    def __post_init__(self) -> None:
        _validate_w(self.w)

    @property
    def params(self) -> Mapping[str, Decimal | int]:
        return {"w": self.w}

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        n = len(values)
        if n == 1:
            return self._calculated(
                values[0],
                f"only one score, {_fmt(values[0])}, so the weighted average is that score",
                [1],
            )
        w = Fraction(self.w)
        result = w * Fraction(values[-1]) + (1 - w) * _mean(values[:-1])
        weights = [(1 - w) / (n - 1)] * (n - 1) + [w]
        return self._calculated(
            result,
            f"{_fmt(self.w)} × most recent score {_fmt(values[-1])} + {_fmt(1 - self.w)} × "
            f"mean of earlier scores ({_fmt_list(values[:-1])}) = {_fmt(result)}",
            weights,
        )


@dataclass(frozen=True)
class DecayingAverage(Method):
    """A true decaying average: D1 = s1, Dk = (1−w)·Dk−1 + w·sk, result Dn.

    Unrolled, Dn = (1−w)^(n−1)·s1 + Σ_{k=2..n} w·(1−w)^(n−k)·sk: those are the contributions.
    """

    name: ClassVar[str] = "decaying_average"
    w: Decimal = DEFAULT_W

    def __post_init__(self) -> None:
        _validate_w(self.w)

    @property
    def params(self) -> Mapping[str, Decimal | int]:
        return {"w": self.w}

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        n = len(values)
        if n == 1:
            return self._calculated(
                values[0],
                f"only one score, {_fmt(values[0])}, so the decaying average is that score",
                [1],
            )
        w = Fraction(self.w)
        steps = [Fraction(values[0])]
        for value in values[1:]:
            steps.append((1 - w) * steps[-1] + w * Fraction(value))
        # closed form, newest first: w·(1−w)^(n−k) for k = n … 2, then (1−w)^(n−1) for s1
        newest_first: list[Fraction] = []
        decay = Fraction(1)
        for _ in range(n - 1):
            newest_first.append(w * decay)
            decay *= 1 - w
        weights = [decay, *reversed(newest_first)]
        trail = " → ".join(_fmt(step) for step in steps)
        return self._calculated(
            steps[-1],
            f"decaying average of {_fmt_list(values)}, each newer score weighted {_fmt(self.w)}: "
            f"{trail}",
            weights,
        )


@dataclass(frozen=True)
class NMastery(Method):
    """Mean of all scores at or above mastery, once at least ``n`` of them are."""

    name: ClassVar[str] = "n_mastery"
    n: int

    def __post_init__(self) -> None:
        _validate_count("n", self.n)

    @property
    def params(self) -> Mapping[str, Decimal | int]:
        return {"n": self.n}

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        threshold = scale.mastery_threshold
        if len(values) < self.n:
            return self._without_value(
                Status.NOT_ENOUGH_EVIDENCE,
                f"only {_plural(len(values), 'score')} so far, and {self.n} are needed",
                len(values),
            )
        at_mastery = [v for v in values if v >= threshold]
        if len(at_mastery) < self.n:
            return self._without_value(
                Status.NOT_ENOUGH_EVIDENCE,
                f"{len(at_mastery)} of {_plural(len(values), 'score')} reach the mastery level "
                f"{_fmt(threshold)}, and {self.n} are needed",
                len(values),
            )
        mean = _mean(at_mastery)
        share = _share(len(at_mastery))
        return self._calculated(
            mean,
            f"{len(at_mastery)} of {_plural(len(values), 'score')} reach the mastery level "
            f"{_fmt(threshold)} ({self.n} needed); mean of {_fmt_list(at_mastery)} = {_fmt(mean)}",
            [share if v >= threshold else 0 for v in values],
        )


@dataclass(frozen=True)
class PowerLaw(Method):
    """Least-squares power-law trend, evaluated at the latest attempt, clamped to the scale.

    Fits ln(s + shift) = a + b·ln(i) over attempts i = 1..n, where shift = 1 − scale minimum,
    and returns exp(a + b·ln(n)) − shift clamped to the scale's range. On the usual scale
    starting at 0 this is "add 1 to every score before the log, subtract 1 after", so a
    score of 0 is simply the point ln(1) = 0: every score on the scale has a finite log and
    the result is defined and continuous however many zeros there are (all zeros give 0).
    One score gives s1. A fit is not a weighted sum: contributions are None (1 for a single
    score, which is the result itself).
    """

    name: ClassVar[str] = "power_law"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        n = len(values)
        if n == 1:
            return self._calculated(
                values[0], f"only one score, {_fmt(values[0])}, so the trend is that score", [1]
            )
        raw = _fitted(_power_law_predictions(values, scale)[-1], scale)
        value = scale.clamp_exact(raw)
        return self._calculated(
            value,
            f"the power-law trend through {_fmt_list(values)} gives {_fmt(value)} at the "
            f"latest attempt ({n} of {n}){_clamp_note(raw, scale)}",
            [None] * n,
        )


@dataclass(frozen=True)
class AssessmentWeighted(Method):
    """Σ(weight·s) / Σweight over per-assessment weights; weight 0 is formative (not counted)."""

    name: ClassVar[str] = "assessment_weighted"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        counted = [score for score in scores if score.weight > 0]
        formative = len(scores) - len(counted)
        if not counted:
            return self._without_value(
                Status.NOT_ENOUGH_EVIDENCE,
                f"all {_plural(len(scores), 'score')} are formative (weight 0), so none count yet",
                len(scores),
            )
        total_weight = sum((Fraction(s.weight) for s in counted), Fraction(0))
        weighted = sum((Fraction(s.weight) * Fraction(s.value) for s in counted), Fraction(0))
        result = weighted / total_weight
        terms = " + ".join(f"{_fmt(s.weight)} × {_fmt(s.value)}" for s in counted)
        weights = " + ".join(_fmt(s.weight) for s in counted)
        note = (
            f" ({_plural(formative, 'formative score')} shown but not counted)" if formative else ""
        )
        return self._calculated(
            result,
            f"weighted mean ({terms}) ÷ ({weights}) = {_fmt(result)}{note}",
            [Fraction(s.weight) / total_weight for s in scores],
        )


@dataclass(frozen=True)
class _Windowed(Method):
    """The inner method applied to the most recent ``k`` scores (all of them if fewer).

    Scores before the window weigh 0: shown, not counted.
    """

    k: int
    inner: ClassVar[Method]

    def __post_init__(self) -> None:
        _validate_count("k", self.k)

    @property
    def params(self) -> Mapping[str, Decimal | int]:
        return {"k": self.k}

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        window = scores[-self.k :]
        result = self.inner.calculate(window, scale)
        filler = None if result.value is None else Fraction(0)
        exact = (filler,) * (len(scores) - len(window)) + result.exact_contributions
        return replace(
            result,
            method=self.name,
            explanation=f"{self._scope(len(window), len(scores))}: {result.explanation}",
            contributions=tuple(None if c is None else _as_decimal(c) for c in exact),
            exact_contributions=exact,
        )

    def _scope(self, used: int, total: int) -> str:
        if total > self.k:
            return f"using the most recent {used} of {total} scores"
        if total == self.k:
            return f"using the most recent {_plural(total, 'score')}"
        return f"using all {_plural(total, 'score')} (fewer than the {self.k} the window takes)"


@dataclass(frozen=True)
class WindowedMean(_Windowed):
    name: ClassVar[str] = "windowed_mean"
    inner: ClassVar[Method] = Mean()


@dataclass(frozen=True)
class WindowedMedian(_Windowed):
    name: ClassVar[str] = "windowed_median"
    inner: ClassVar[Method] = Median()


@dataclass(frozen=True)
class WindowedMode(_Windowed):
    name: ClassVar[str] = "windowed_mode"
    inner: ClassVar[Method] = Mode()


@dataclass(frozen=True)
class WindowedHighest(_Windowed):
    name: ClassVar[str] = "windowed_highest"
    inner: ClassVar[Method] = Highest()


@dataclass(frozen=True)
class _TrendModel:
    label: str
    predictions: list[Fraction]  # fitted values at attempts 1..n
    contributions: list[Contribution]  # each score's weight in the prediction, None if fitted

    def total_error(self, values: Sequence[Decimal]) -> Fraction:
        return sum(
            (abs(p - Fraction(v)) for p, v in zip(self.predictions, values, strict=True)),
            Fraction(0),
        )


def _trend_models(values: Sequence[Decimal], scale: ScaleRange) -> list[_TrendModel]:
    """The candidate models, simplest first (the order breaks ties in total error)."""
    n = len(values)
    power = [_fitted(p, scale) for p in _power_law_predictions(values, scale)]
    return [
        _TrendModel("the mean", [_mean(values)] * n, [_share(n)] * n),
        _TrendModel("a straight-line trend", _linear_predictions(values), [None] * n),
        _TrendModel("a power-law trend", power, [None] * n),
    ]


def _best_model(models: Sequence[_TrendModel], values: Sequence[Decimal]) -> _TrendModel:
    """The model with the least total absolute error; near-ties go to the earlier model."""
    best, best_error = models[0], models[0].total_error(values)
    for model in models[1:]:
        error = model.total_error(values)
        if error < best_error - _ERROR_TOLERANCE:
            best, best_error = model, error
    return best


def _fmt_estimate(value: Fraction) -> str:
    """An estimate about to be rounded to a step, shown to 4 places so the step rounding
    that follows is visible (2.249 must not read as 2.25 when it becomes 2)."""
    return _fmt(round_final(value, places=4))


@dataclass(frozen=True)
class TrueScoreEstimate(Method):
    """Best of the mean, linear and power-law models, at the latest attempt, on the scale.

    Each model is fitted to the scores by least squares; the one with the least total
    absolute error over the observed attempts is evaluated at attempt n and clamped to the
    scale. With a step, that exact estimate is rounded to the nearest step (ties away from
    zero) and clamped again; then, as for every method, to 2 decimals. Near-ties (within 1e-9)
    go to the simpler model: mean, then linear, then power law. Contributions are 1/n each when
    the mean model is chosen (1 for a single score), None for a fitted trend.
    """

    name: ClassVar[str] = "true_score_estimate"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        n = len(values)
        if n == 1:
            estimate = Fraction(values[0])
            weights: list[Contribution] = [1]
            basis = f"only one score, {_fmt(values[0])}"
        else:
            model = _best_model(_trend_models(values, scale), values)
            raw = model.predictions[-1]
            estimate = scale.clamp_exact(raw)
            weights = model.contributions
            shown = _fmt(estimate) if scale.step is None else _fmt_estimate(estimate)
            basis = (
                f"{model.label} fits {_fmt_list(values)} best and gives {shown} at the "
                f"latest attempt ({n} of {n}){_clamp_note(raw, scale)}"
            )
        if scale.step is None:
            return self._calculated(estimate, basis, weights)
        on_step = scale.clamp_exact(_round_to_step(estimate, scale.step))
        return Calculation.calculated(
            self.name,
            on_step,
            f"{basis}, rounded to the nearest {_fmt(scale.step)} = {_fmt(on_step)}",
            weights,
            unrounded=estimate,
        )


# --- building a method by name -------------------------------------------------------------


def _parse_w(raw: ParamValue) -> Decimal:
    if isinstance(raw, bool):
        raise ValueError(f"parameter 'w' must be a number strictly between 0 and 1, got {raw!r}")
    try:
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    except (InvalidOperation, ValueError) as error:
        raise ValueError(
            f"parameter 'w' must be a number strictly between 0 and 1, got {raw!r}"
        ) from error
    return _validate_w(value)


def _parse_count(parameter: str, raw: ParamValue) -> int:
    message = f"parameter {parameter!r} must be a whole number of at least 1, got {raw!r}"
    if isinstance(raw, bool):
        raise ValueError(message)
    if isinstance(raw, int):
        return _validate_count(parameter, raw)
    try:
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    except (InvalidOperation, ValueError) as error:
        raise ValueError(message) from error
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(message)
    return _validate_count(parameter, int(value))


Builder: TypeAlias = Callable[[Mapping[str, ParamValue]], Method]


def _required(params: Mapping[str, ParamValue], parameter: str, method: str) -> ParamValue:
    if parameter not in params:
        raise ValueError(f"parameter {parameter!r} is required for method {method!r}")
    return params[parameter]


def _w_builder(cls: type[WeightedAverage] | type[DecayingAverage]) -> Builder:
    def build(params: Mapping[str, ParamValue]) -> Method:
        return cls(w=_parse_w(params["w"])) if "w" in params else cls()

    return build


def _windowed_builder(cls: type[_Windowed]) -> Builder:
    def build(params: Mapping[str, ParamValue]) -> Method:
        return cls(k=_parse_count("k", _required(params, "k", cls.name)))

    return build


def _n_mastery_builder(params: Mapping[str, ParamValue]) -> Method:
    return NMastery(n=_parse_count("n", _required(params, "n", NMastery.name)))


def _plain_builder(cls: type[Method]) -> Builder:
    def build(params: Mapping[str, ParamValue]) -> Method:
        return cls()

    return build


#: name -> (accepted parameter names, builder)
_REGISTRY: dict[str, tuple[frozenset[str], Builder]] = {
    MostRecent.name: (frozenset(), _plain_builder(MostRecent)),
    Highest.name: (frozenset(), _plain_builder(Highest)),
    Mean.name: (frozenset(), _plain_builder(Mean)),
    Median.name: (frozenset(), _plain_builder(Median)),
    Mode.name: (frozenset(), _plain_builder(Mode)),
    WeightedAverage.name: (frozenset({"w"}), _w_builder(WeightedAverage)),
    DecayingAverage.name: (frozenset({"w"}), _w_builder(DecayingAverage)),
    NMastery.name: (frozenset({"n"}), _n_mastery_builder),
    PowerLaw.name: (frozenset(), _plain_builder(PowerLaw)),
    AssessmentWeighted.name: (frozenset(), _plain_builder(AssessmentWeighted)),
    WindowedMean.name: (frozenset({"k"}), _windowed_builder(WindowedMean)),
    WindowedMedian.name: (frozenset({"k"}), _windowed_builder(WindowedMedian)),
    WindowedMode.name: (frozenset({"k"}), _windowed_builder(WindowedMode)),
    WindowedHighest.name: (frozenset({"k"}), _windowed_builder(WindowedHighest)),
    TrueScoreEstimate.name: (frozenset(), _plain_builder(TrueScoreEstimate)),
}

#: Every method's stable name, in the order the product lists them.
METHOD_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def method_from_spec(name: str, params: Mapping[str, ParamValue]) -> Method:
    """The method called ``name`` with ``params`` validated.

    Raises ``ValueError`` for an unknown name, an unknown or missing parameter, or a bad
    parameter value; the message names the parameter.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown calculation method {name!r}; known: {', '.join(METHOD_NAMES)}")
    accepted, build = _REGISTRY[name]
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r} for method {name!r}")
    return build(params)
