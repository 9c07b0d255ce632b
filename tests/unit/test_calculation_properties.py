"""Properties every calculation method keeps, checked on generated score histories (hypothesis).

Whatever a student's history looks like, a teacher can rely on these: a mean-like value never
leaves the range of the scores it summarises, a fitted value never leaves the scale, the order
of the scores does not matter where it should not, one score is its own result, recomputing
gives the same answer, and the weights shown for each score add up to the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import example, given, settings
from hypothesis import strategies as st

from arc_mastery.methods import (
    METHOD_NAMES,
    Calculation,
    DecayingAverage,
    Highest,
    Mean,
    Median,
    Method,
    Mode,
    ParamValue,
    ScaleRange,
    Score,
    Status,
    TrueScoreEstimate,
    WeightedAverage,
    WindowedHighest,
    WindowedMean,
    WindowedMedian,
    WindowedMode,
    method_from_spec,
    round_final,
)

D = Decimal
F = Fraction
#: Modest on purpose: CI has 2 cores shared with everything else. No example database is
#: written (nothing left in the work tree); under CI, hypothesis's own "ci" profile also
#: derandomizes, so a CI run is reproducible.
PROPERTY = settings(max_examples=200, deadline=None, database=None)

#: Methods that are a weighted mean of the scores (value = Σ contributionᵢ·sᵢ).
LINEAR = (
    "most_recent",
    "highest",
    "mean",
    "median",
    "mode",
    "weighted_average",
    "decaying_average",
    "n_mastery",
    "assessment_weighted",
    "windowed_mean",
    "windowed_median",
    "windowed_mode",
    "windowed_highest",
)
#: Methods that fit a trend and may land anywhere on the scale (but not off it).
FITTED = ("power_law", "true_score_estimate")
#: Methods whose value must not depend on the order of the scores.
ORDER_FREE = ("mean", "median", "highest", "mode")


def test_every_method_is_either_linear_or_fitted() -> None:
    assert sorted(LINEAR + FITTED) == sorted(METHOD_NAMES)


# --- generated inputs ------------------------------------------------------------------------

weights_01 = st.decimals(min_value=D("0.01"), max_value=D("0.99"), places=2)


def params_for(name: str) -> st.SearchStrategy[dict[str, ParamValue]]:
    """Valid parameters for ``name``: any w in (0, 1), windows and n from 1 to 6."""
    if name in ("weighted_average", "decaying_average"):
        return st.one_of(st.just({}), st.builds(lambda w: {"w": w}, weights_01))
    if name == "n_mastery":
        return st.builds(lambda n: {"n": n}, st.integers(1, 6))
    if name.startswith("windowed_"):
        return st.builds(lambda k: {"k": k}, st.integers(1, 6))
    return st.just({})


def methods(names: Sequence[str]) -> st.SearchStrategy[Method]:
    return st.sampled_from(names).flatmap(
        lambda name: params_for(name).map(lambda params: method_from_spec(name, params))
    )


@st.composite
def scales(draw: st.DrawFn, with_step: bool | None = None) -> ScaleRange:
    """The usual 0-4 scale most of the time; otherwise 1-4, 0-10, 0-100 or -2..2 scales."""
    minimum, maximum = draw(
        st.sampled_from([(0, 4), (0, 4), (0, 4), (1, 4), (0, 10), (0, 100), (-2, 2)])
    )
    threshold = draw(st.integers(minimum, maximum))
    if with_step is None:
        step = draw(st.sampled_from([None, D("0.5"), D(1), D("0.25")]))
    else:
        step = D("0.5") if with_step else None
    return ScaleRange(D(minimum), D(maximum), D(threshold), step)


@st.composite
def histories(
    draw: st.DrawFn,
    scale: ScaleRange,
    min_size: int = 1,
    max_size: int = 12,
    places: int | None = None,
) -> list[Score]:
    """Scores on ``scale`` on a grid of whole, half, quarter points or 2-3 decimal places,
    with per-assessment weights that include 0 (formative)."""
    grain = D(1).scaleb(-places) if places is not None else None
    if grain is None:
        grain = draw(st.sampled_from([D(1), D("0.5"), D("0.25"), D("0.01"), D("0.001")]))
    top = int((scale.maximum - scale.minimum) / grain)
    value = st.integers(0, top).map(lambda i: scale.minimum + i * grain)
    weight = st.sampled_from([D(1), D(1), D(2), D("0.5"), D(0)])
    pairs = draw(st.lists(st.tuples(value, weight), min_size=min_size, max_size=max_size))
    return [Score(v, w) for v, w in pairs]


@st.composite
def cases(
    draw: st.DrawFn, names: Sequence[str], min_size: int = 1, with_step: bool | None = None
) -> tuple[Method, ScaleRange, list[Score]]:
    scale = draw(scales(with_step))
    return draw(methods(names)), scale, draw(histories(scale, min_size=min_size))


def values(scores: Sequence[Score]) -> list[Decimal]:
    return [score.value for score in scores]


# --- bounds -------------------------------------------------------------------------------------


@PROPERTY
@given(cases(LINEAR))
@example((Mean(), ScaleRange(D(0), D(4), D(3)), [Score(D("2.995")), Score(D("2.995"))]))
def test_a_mean_like_value_stays_within_the_scores(
    case: tuple[Method, ScaleRange, list[Score]],
) -> None:
    method, scale, scores = case
    result = method.calculate(scores, scale)
    if result.value is None:
        return
    low, high = min(values(scores)), max(values(scores))
    # the exact value lies between the lowest and the highest score...
    assert result.unrounded is not None and low <= result.unrounded <= high
    # ...and so does its rounding, up to the rounding of the bounds (2.995, 2.995 -> 3.00)
    assert round_final(low) <= result.value <= round_final(high)


@PROPERTY
@given(cases(FITTED))
@example((TrueScoreEstimate(), ScaleRange(D(0), D(4), D(3), D("0.5")), [Score(D(0))] * 3))
def test_a_fitted_value_stays_on_the_scale(case: tuple[Method, ScaleRange, list[Score]]) -> None:
    method, scale, scores = case
    result = method.calculate(scores, scale)
    assert result.status is Status.CALCULATED
    assert result.value is not None and scale.minimum <= result.value <= scale.maximum


# --- order ----------------------------------------------------------------------------------------


@st.composite
def shuffled_cases(
    draw: st.DrawFn,
) -> tuple[Method, ScaleRange, list[Score], list[Score]]:
    method, scale, scores = draw(cases(ORDER_FREE))
    return method, scale, scores, draw(st.permutations(scores))


@PROPERTY
@given(shuffled_cases())
def test_mean_median_highest_and_mode_ignore_the_order(
    case: tuple[Method, ScaleRange, list[Score], list[Score]],
) -> None:
    method, scale, scores, shuffled = case
    before, after = method.calculate(scores, scale), method.calculate(shuffled, scale)
    assert (before.value, before.status) == (after.value, after.status)
    assert before.unrounded == after.unrounded


# --- one score ----------------------------------------------------------------------------------


@st.composite
def single_score_cases(draw: st.DrawFn) -> tuple[Method, ScaleRange, Score]:
    scale = draw(scales(with_step=False))
    (score,) = draw(histories(scale, min_size=1, max_size=1))
    return draw(methods(METHOD_NAMES)), scale, Score(score.value)  # weight 1: it counts


@PROPERTY
@given(single_score_cases())
def test_one_score_is_its_own_result(case: tuple[Method, ScaleRange, Score]) -> None:
    method, scale, score = case
    result = method.calculate([score], scale)
    n = method.params.get("n", 1)
    if method.name == "n_mastery" and (n > 1 or score.value < scale.mastery_threshold):
        # n_mastery needs n scores at mastery: one score is never enough when n > 1
        assert result.status is Status.NOT_ENOUGH_EVIDENCE and result.value is None
        return
    assert result.status is Status.CALCULATED
    assert result.value == round_final(score.value)
    assert result.exact_contributions == (F(1),)


@PROPERTY
@given(st.data())
def test_one_score_with_a_step_is_that_score_on_the_step(data: st.DataObject) -> None:
    scale = data.draw(scales(with_step=True))
    (score,) = data.draw(histories(scale, min_size=1, max_size=1))
    result = TrueScoreEstimate().calculate([score], scale)
    assert result.value is not None and result.value % D("0.5") == 0
    assert abs(result.value - score.value) <= D("0.25")


# --- recomputation ----------------------------------------------------------------------------


@PROPERTY
@given(cases(METHOD_NAMES, min_size=0), histories(ScaleRange(D(0), D(4), D(3)), min_size=0))
def test_recomputing_gives_the_same_result(
    case: tuple[Method, ScaleRange, list[Score]], other: list[Score]
) -> None:
    method, scale, scores = case
    first = method.calculate(scores, scale)
    method.calculate(other, ScaleRange(D(0), D(4), D(3)))  # no state carried between calls
    again = method.calculate(list(scores), scale)
    assert again == first
    rebuilt = method_from_spec(method.name, method.params).calculate(list(scores), scale)
    assert rebuilt == first


# --- contributions -------------------------------------------------------------------------------


def assert_weights_explain_the_value(result: Calculation, scores: Sequence[Score]) -> None:
    exact = result.exact_contributions
    assert all(c is not None and c >= 0 for c in exact)
    assert sum(c for c in exact if c is not None) == 1
    total = sum((c * F(s.value) for c, s in zip(exact, scores, strict=True) if c), F(0))
    assert total == result.unrounded
    assert result.value == round_final(total)


@PROPERTY
@given(cases(LINEAR))
def test_weights_sum_to_one_and_give_the_unrounded_value(
    case: tuple[Method, ScaleRange, list[Score]],
) -> None:
    method, scale, scores = case
    result = method.calculate(scores, scale)
    assert len(result.contributions) == len(result.exact_contributions) == len(scores)
    if result.value is None:
        assert set(result.exact_contributions) == {None}
        return
    assert_weights_explain_the_value(result, scores)


@PROPERTY
@given(cases(LINEAR))
def test_decimal_weights_are_the_exact_ones_to_28_digits(
    case: tuple[Method, ScaleRange, list[Score]],
) -> None:
    method, scale, scores = case
    result = method.calculate(scores, scale)
    for shown, exact in zip(result.contributions, result.exact_contributions, strict=True):
        if exact is None:
            assert shown is None
            continue
        assert shown is not None
        # exact when the fraction has a finite decimal form, else within half a unit in the
        # 28th significant digit
        assert abs(F(shown) - exact) <= exact * F(1, 10**27)


@PROPERTY
@given(cases(FITTED, min_size=2))
def test_a_fit_has_no_weights_unless_it_is_the_mean(
    case: tuple[Method, ScaleRange, list[Score]],
) -> None:
    method, scale, scores = case
    result = method.calculate(scores, scale)
    if result.explanation.startswith("the mean fits"):
        assert result.exact_contributions == (F(1, len(scores)),) * len(scores)
        assert result.unrounded == sum((F(s.value) for s in scores), F(0)) / len(scores)
    else:
        assert set(result.contributions) == {None}


# --- rounding -------------------------------------------------------------------------------------


@PROPERTY
@given(st.decimals(min_value=-1000, max_value=1000, places=6))
def test_rounding_is_half_away_from_zero_to_two_places(value: Decimal) -> None:
    rounded = round_final(value)
    # the decimal module's ROUND_HALF_UP is "half away from zero": an independent oracle
    assert rounded == value.quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert rounded.as_tuple().exponent == -2
    assert abs(rounded - value) <= D("0.005")
    assert round_final(-value) == -rounded


@PROPERTY
@given(st.fractions(min_value=-100, max_value=100, max_denominator=1000))
def test_rounding_an_exact_fraction(value: Fraction) -> None:
    rounded = round_final(value)
    assert abs(F(rounded) - value) <= F(1, 200)
    if abs(F(rounded) - value) == F(1, 200):  # a tie: always the one further from zero
        assert abs(F(rounded)) > abs(value)


# --- relations between methods ------------------------------------------------------------------


@PROPERTY
@given(st.data(), weights_01)
def test_with_two_scores_decaying_and_weighted_average_agree(
    data: st.DataObject, w: Decimal
) -> None:
    # with two scores both are (1 - w)·s1 + w·s2
    scale = data.draw(scales())
    scores = data.draw(histories(scale, min_size=2, max_size=2))
    decaying = DecayingAverage(w).calculate(scores, scale)
    weighted = WeightedAverage(w).calculate(scores, scale)
    assert decaying.unrounded == weighted.unrounded
    assert decaying.value == weighted.value


@PROPERTY
@given(st.data())
def test_a_window_longer_than_the_history_is_the_whole_history(data: st.DataObject) -> None:
    scale = data.draw(scales())
    scores = data.draw(histories(scale, min_size=1, max_size=8))
    k = data.draw(st.integers(len(scores), 20))
    for windowed, whole in [
        (WindowedMean(k), Mean()),
        (WindowedMedian(k), Median()),
        (WindowedMode(k), Mode()),
        (WindowedHighest(k), Highest()),
    ]:
        a, b = windowed.calculate(scores, scale), whole.calculate(scores, scale)
        assert (a.value, a.status, a.exact_contributions) == (
            b.value,
            b.status,
            b.exact_contributions,
        )


@PROPERTY
@given(st.data())
def test_true_score_is_the_unrounded_estimate_rounded_to_the_step(data: st.DataObject) -> None:
    scale = data.draw(scales(with_step=True))
    scores = data.draw(histories(scale, min_size=1))
    no_step = ScaleRange(scale.minimum, scale.maximum, scale.mastery_threshold, None)
    unrounded = TrueScoreEstimate().calculate(scores, no_step).unrounded
    rounded = TrueScoreEstimate().calculate(scores, scale)
    assert unrounded is not None and rounded.value is not None
    assert rounded.unrounded == unrounded
    assert rounded.value % D("0.5") == 0
    assert abs(F(rounded.value) - unrounded) <= F(1, 4)


@PROPERTY
@given(st.data())
def test_mode_never_picks_silently(data: st.DataObject) -> None:
    scale = data.draw(scales())
    scores = data.draw(histories(scale))
    counts = [values(scores).count(v) for v in values(scores)]
    most = max(counts)
    leaders = {v for v, c in zip(values(scores), counts, strict=True) if c == most}
    result = Mode().calculate(scores, scale)
    if len(leaders) == 1:
        assert result.value == round_final(leaders.pop())
    else:
        assert result.value is None and result.status is Status.NEEDS_TEACHER_JUDGMENT


MONOTONE = (
    "most_recent",
    "highest",
    "mean",
    "median",
    "weighted_average",
    "decaying_average",
    "assessment_weighted",
    "windowed_mean",
    "windowed_median",
    "windowed_highest",
)


@PROPERTY
@given(cases(MONOTONE), st.data())
def test_a_better_score_never_lowers_the_value(
    case: tuple[Method, ScaleRange, list[Score]], data: st.DataObject
) -> None:
    method, scale, scores = case
    index = data.draw(st.integers(0, len(scores) - 1))
    raised = data.draw(
        st.decimals(min_value=scores[index].value, max_value=scale.maximum, places=3)
    )
    better = [*scores[:index], Score(raised, scores[index].weight), *scores[index + 1 :]]
    before, after = method.calculate(scores, scale), method.calculate(better, scale)
    if before.unrounded is not None:
        assert after.unrounded is not None and after.unrounded >= before.unrounded
