"""Calculation methods: how a student's scores on one outcome become one mastery value.

Pure functions of their input, standard library only, no I/O.

Conventions shared by every method:

* ``scores`` are the student's counted scores on one outcome in time order, oldest first
  (s1 ... sn). Only ``assessment_weighted`` reads ``Score.weight``; every other method counts
  every score it is given (the caller filters out what should not count).
* Every score must lie within the scale's range; a score outside it is a data error and raises
  ``ValueError`` rather than producing a silently wrong value.
* No scores at all gives no value and the status ``NO_EVIDENCE``, for every method.
* Arithmetic is done in ``Decimal`` with 28 significant digits; every value is quantized to
  4 decimal places rounding half away from zero (``ROUND_HALF_UP``), never with ``round()``.
  The trend fits (power law, true score) use float ``log``/``exp`` internally.
"""

from __future__ import annotations

import enum
import math
import statistics
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from typing import ClassVar, TypeAlias

__all__ = [
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
]

#: Default weight of the newest score for ``weighted_average`` and ``decaying_average``.
DEFAULT_W = Decimal("0.65")
PRECISION = 28
QUANTUM = Decimal("0.0001")
#: Total absolute errors closer than this are treated as equal when choosing a trend model.
_ERROR_TOLERANCE = Decimal("1e-9")

ParamValue: TypeAlias = str | int | float | Decimal


def _context() -> Context:
    return Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)


def _quantize(value: Decimal) -> Decimal:
    """``value`` to 4 decimal places, ties away from zero."""
    return value.quantize(QUANTUM, rounding=ROUND_HALF_UP, context=_context())


def _fmt(value: Decimal) -> str:
    """A number as a person writes it: 3.3000 -> "3.3", 3.0000 -> "3", no exponent."""
    text = f"{value.normalize(_context()):f}"
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
        for field in ("minimum", "maximum", "mastery_threshold"):
            _require_finite_decimal("ScaleRange", field, getattr(self, field))
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

    def contains(self, value: Decimal) -> bool:
        return self.minimum <= value <= self.maximum


@dataclass(frozen=True)
class Calculation:
    """The result of one method: a value (or None, with the reason in ``status``) and one
    plain-language sentence saying how it was reached."""

    value: Decimal | None
    status: Status
    method: str
    explanation: str

    @classmethod
    def calculated(cls, method: str, value: Decimal, explanation: str) -> Calculation:
        return cls(_quantize(value), Status.CALCULATED, method, explanation)

    @classmethod
    def without_value(cls, method: str, status: Status, explanation: str) -> Calculation:
        if status is Status.CALCULATED:
            raise ValueError("a calculation without a value cannot have the status CALCULATED")
        return cls(None, status, method, explanation)


def mastered(calculation: Calculation, scale: ScaleRange) -> bool:
    """True when the calculation has a value at or above the scale's mastery threshold."""
    return calculation.value is not None and calculation.value >= scale.mastery_threshold


# --- shared arithmetic -------------------------------------------------------------------


def _values(scores: Sequence[Score]) -> list[Decimal]:
    return [score.value for score in scores]


def _mean(values: Sequence[Decimal]) -> Decimal:
    with localcontext(_context()):
        return sum(values, Decimal(0)) / len(values)


def _middle_values(values: Sequence[Decimal]) -> list[Decimal]:
    """The one (odd count) or two (even count) middle values of ``values`` once sorted."""
    ordered = sorted(values)
    half = len(ordered) // 2
    return ordered[half : half + 1] if len(ordered) % 2 else ordered[half - 1 : half + 1]


def _linear_fit(values: Sequence[Decimal]) -> tuple[Decimal, Decimal]:
    """Least-squares intercept and slope of score against attempt index 1..n (n >= 2)."""
    with localcontext(_context()):
        xs = [Decimal(i) for i in range(1, len(values) + 1)]
        mean_x, mean_y = _mean(xs), _mean(values)
        sxy = sum(
            ((x - mean_x) * (y - mean_y) for x, y in zip(xs, values, strict=True)), Decimal(0)
        )
        sxx = sum(((x - mean_x) ** 2 for x in xs), Decimal(0))
        slope = sxy / sxx
        return mean_y - slope * mean_x, slope


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


def _to_decimal(value: float) -> Decimal:
    """A fitted float as a Decimal via its shortest repr (an overflow stays Infinity, which
    clamping to the scale then caps)."""
    return Decimal(repr(value))


def _round_to_step(value: Decimal, step: Decimal) -> Decimal:
    """``value`` to the nearest multiple of ``step``, ties away from zero."""
    with localcontext(_context()):
        return (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step


def _clamp_note(raw: Decimal, scale: ScaleRange) -> str:
    """Says so when a fitted value had to be brought back onto the scale."""
    if raw > scale.maximum:
        return f" (capped at the top of the scale, {_fmt(scale.maximum)})"
    if raw < scale.minimum:
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

    def _calculated(self, value: Decimal, explanation: str) -> Calculation:
        return Calculation.calculated(self.name, value, explanation)


@dataclass(frozen=True)
class MostRecent(Method):
    """sn, the newest score."""

    name: ClassVar[str] = "most_recent"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        n = len(scores)
        latest = scores[-1].value
        return self._calculated(latest, f"most recent score {_fmt(latest)} (attempt {n} of {n})")


@dataclass(frozen=True)
class Highest(Method):
    """max(s1 ... sn)."""

    name: ClassVar[str] = "highest"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        best = max(values)
        return self._calculated(best, f"highest of {_fmt_list(values)} = {_fmt(best)}")


@dataclass(frozen=True)
class Mean(Method):
    """The arithmetic mean."""

    name: ClassVar[str] = "mean"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        mean = _quantize(_mean(values))
        return self._calculated(mean, f"mean of {_fmt_list(values)} = {_fmt(mean)}")


@dataclass(frozen=True)
class Median(Method):
    """The middle value; the mean of the two middle values for an even count."""

    name: ClassVar[str] = "median"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        middle = _middle_values(values)
        median = _quantize(_mean(middle))
        sorted_text = _fmt_list(sorted(values))
        if len(middle) == 1:
            return self._calculated(
                median, f"median (middle value) of {sorted_text} = {_fmt(median)}"
            )
        return self._calculated(
            median,
            f"median of {sorted_text} = mean of the two middle values "
            f"{_fmt(middle[0])} and {_fmt(middle[1])} = {_fmt(median)}",
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
            return Calculation.without_value(
                self.name,
                Status.NEEDS_TEACHER_JUDGMENT,
                f"scores {_fmt_list(tied[:-1])} and {_fmt(tied[-1])} are tied as most frequent "
                f"({_plural(count, 'time')} each), so a teacher needs to decide",
            )
        return self._calculated(
            modes[0],
            f"most frequent score {_fmt(modes[0])} ({count} of {_plural(len(values), 'score')})",
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
        if len(values) == 1:
            return self._calculated(
                values[0],
                f"only one score, {_fmt(values[0])}, so the weighted average is that score",
            )
        with localcontext(_context()):
            earlier = _mean(values[:-1])
            rest = 1 - self.w
            result = self.w * values[-1] + rest * earlier
        return self._calculated(
            result,
            f"{_fmt(self.w)} × most recent score {_fmt(values[-1])} + {_fmt(rest)} × "
            f"mean of earlier scores ({_fmt_list(values[:-1])}) = {_fmt(_quantize(result))}",
        )


@dataclass(frozen=True)
class DecayingAverage(Method):
    """A true decaying average: D1 = s1, Dk = (1−w)·Dk−1 + w·sk, result Dn."""

    name: ClassVar[str] = "decaying_average"
    w: Decimal = DEFAULT_W

    def __post_init__(self) -> None:
        _validate_w(self.w)

    @property
    def params(self) -> Mapping[str, Decimal | int]:
        return {"w": self.w}

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        if len(values) == 1:
            return self._calculated(
                values[0],
                f"only one score, {_fmt(values[0])}, so the decaying average is that score",
            )
        steps = [values[0]]
        with localcontext(_context()):
            for value in values[1:]:
                steps.append((1 - self.w) * steps[-1] + self.w * value)
        trail = " → ".join(_fmt(_quantize(step)) for step in steps)
        return self._calculated(
            steps[-1],
            f"decaying average of {_fmt_list(values)}, each newer score weighted {_fmt(self.w)}: "
            f"{trail}",
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
            return Calculation.without_value(
                self.name,
                Status.NOT_ENOUGH_EVIDENCE,
                f"only {_plural(len(values), 'score')} so far, and {self.n} are needed",
            )
        at_mastery = [v for v in values if v >= threshold]
        if len(at_mastery) < self.n:
            return Calculation.without_value(
                self.name,
                Status.NOT_ENOUGH_EVIDENCE,
                f"{len(at_mastery)} of {_plural(len(values), 'score')} reach the mastery level "
                f"{_fmt(threshold)}, and {self.n} are needed",
            )
        mean = _quantize(_mean(at_mastery))
        return self._calculated(
            mean,
            f"{len(at_mastery)} of {_plural(len(values), 'score')} reach the mastery level "
            f"{_fmt(threshold)} ({self.n} needed); mean of {_fmt_list(at_mastery)} = {_fmt(mean)}",
        )


@dataclass(frozen=True)
class PowerLaw(Method):
    """Least-squares power-law trend, evaluated at the latest attempt, clamped to the scale.

    Fits ln(s + shift) = a + b·ln(i) over attempts i = 1..n, where shift = 1 − scale minimum,
    and returns exp(a + b·ln(n)) − shift clamped to the scale's range. On the usual scale
    starting at 0 this is "add 1 to every score before the log, subtract 1 after", so a
    score of 0 is simply the point ln(1) = 0: every score on the scale has a finite log and
    the result is defined and continuous however many zeros there are (all zeros give 0).
    One score gives s1.
    """

    name: ClassVar[str] = "power_law"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        n = len(values)
        if n == 1:
            return self._calculated(
                values[0], f"only one score, {_fmt(values[0])}, so the trend is that score"
            )
        raw = _to_decimal(_power_law_predictions(values, scale)[-1])
        value = _quantize(scale.clamp(raw))
        return self._calculated(
            value,
            f"the power-law trend through {_fmt_list(values)} gives {_fmt(value)} at the "
            f"latest attempt ({n} of {n}){_clamp_note(raw, scale)}",
        )


@dataclass(frozen=True)
class AssessmentWeighted(Method):
    """Σ(weight·s) / Σweight over per-assessment weights; weight 0 is formative (not counted)."""

    name: ClassVar[str] = "assessment_weighted"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        counted = [score for score in scores if score.weight > 0]
        formative = len(scores) - len(counted)
        if not counted:
            return Calculation.without_value(
                self.name,
                Status.NOT_ENOUGH_EVIDENCE,
                f"all {_plural(len(scores), 'score')} are formative (weight 0), so none count yet",
            )
        with localcontext(_context()):
            total_weight = sum((s.weight for s in counted), Decimal(0))
            result = sum((s.weight * s.value for s in counted), Decimal(0)) / total_weight
        terms = " + ".join(f"{_fmt(s.weight)} × {_fmt(s.value)}" for s in counted)
        weights = " + ".join(_fmt(s.weight) for s in counted)
        note = (
            f" ({_plural(formative, 'formative score')} shown but not counted)" if formative else ""
        )
        return self._calculated(
            result,
            f"weighted mean ({terms}) ÷ ({weights}) = {_fmt(_quantize(result))}{note}",
        )


@dataclass(frozen=True)
class _Windowed(Method):
    """The inner method applied to the most recent ``k`` scores (all of them if fewer)."""

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
        scope = self._scope(len(window), len(scores))
        return Calculation(result.value, result.status, self.name, f"{scope}: {result.explanation}")

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
    predictions: list[Decimal]  # fitted values at attempts 1..n

    def total_error(self, values: Sequence[Decimal]) -> Decimal:
        with localcontext(_context()):
            return sum(
                (abs(p - v) for p, v in zip(self.predictions, values, strict=True)), Decimal(0)
            )


def _trend_models(values: Sequence[Decimal], scale: ScaleRange) -> list[_TrendModel]:
    """The candidate models, simplest first (the order breaks ties in total error)."""
    n = len(values)
    mean = _mean(values)
    intercept, slope = _linear_fit(values)
    with localcontext(_context()):
        linear = [intercept + slope * i for i in range(1, n + 1)]
    power = [_to_decimal(p) for p in _power_law_predictions(values, scale)]
    return [
        _TrendModel("the mean", [mean] * n),
        _TrendModel("a straight-line trend", linear),
        _TrendModel("a power-law trend", power),
    ]


def _best_model(models: Sequence[_TrendModel], values: Sequence[Decimal]) -> _TrendModel:
    """The model with the least total absolute error; near-ties go to the earlier model."""
    best, best_error = models[0], models[0].total_error(values)
    for model in models[1:]:
        error = model.total_error(values)
        if error < best_error - _ERROR_TOLERANCE:
            best, best_error = model, error
    return best


@dataclass(frozen=True)
class TrueScoreEstimate(Method):
    """Best of the mean, linear and power-law models, at the latest attempt, on the scale.

    Each model is fitted to the scores by least squares; the one with the least total
    absolute error over the observed attempts is evaluated at attempt n, clamped to the scale,
    quantized to 4 places and rounded to the scale's step, ties away from zero. Near-ties
    (within 1e-9) go to the simpler model: mean, then linear, then power law.
    """

    name: ClassVar[str] = "true_score_estimate"

    def _calculate(self, scores: Sequence[Score], scale: ScaleRange) -> Calculation:
        values = _values(scores)
        n = len(values)
        if n == 1:
            estimate, basis = values[0], f"only one score, {_fmt(values[0])}"
        else:
            model = _best_model(_trend_models(values, scale), values)
            raw = model.predictions[-1]
            estimate = _quantize(scale.clamp(raw))
            basis = (
                f"{model.label} fits {_fmt_list(values)} best and gives {_fmt(estimate)} at the "
                f"latest attempt ({n} of {n}){_clamp_note(raw, scale)}"
            )
        if scale.step is None:
            return self._calculated(estimate, basis)
        rounded = _quantize(scale.clamp(_round_to_step(estimate, scale.step)))
        return self._calculated(
            rounded, f"{basis}, rounded to the nearest {_fmt(scale.step)} = {_fmt(rounded)}"
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
