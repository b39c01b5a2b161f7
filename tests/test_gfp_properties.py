"""Properties of GFP rendering and decoding over random masks, eras and inputs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from minfree.errors import MinfreeError
from minfree.kernel.gfp import decode_gfp, format_gfp, infer_eras_from_names, split_mask_text
from minfree.kernel.gfp_tables import ERAS

MASKS = st.one_of(
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0x3FFFFFF),  # mostly known bits
    st.sampled_from([0x20, 0x820, 0xA20, 0x2080020, 0x480020, 0xCC0, 0x100CCA, 0x1100CCA]),
)
ERA = st.sampled_from(ERAS)


def _names_to_bits(rendered: str, era) -> int:
    table = dict(era.table)
    total = 0
    for token in rendered.split("|") if rendered else []:
        total |= int(token, 16) if token.startswith("0x") else table[token]
    return total


@settings(max_examples=300, deadline=None)
@given(mask=MASKS, era=ERA)
def test_rendering_round_trips_to_the_mask(mask, era):
    rendered = format_gfp(mask, era)
    assert _names_to_bits(rendered, era) == mask
    tokens = rendered.split("|") if rendered else []
    assert len(tokens) == len(set(tokens))
    hex_tokens = [t for t in tokens if t.startswith("0x")]
    assert len(hex_tokens) <= 1
    if hex_tokens:
        # leftover bits come last and are bits no single-flag entry could have printed
        assert tokens[-1] == hex_tokens[0]
        leftover = int(hex_tokens[0], 16)
        # no table entry fits inside the leftover, or format_flags() would have printed it
        for name, value in era.table:
            assert value & ~leftover, (name, hex(value), hex(leftover))
    # the names of an era never contain bits outside the mask
    for token in tokens:
        if not token.startswith("0x"):
            assert dict(era.table)[token] & ~mask == 0


@settings(max_examples=200, deadline=None)
@given(mask=MASKS, era=ERA)
def test_leftover_hex_is_exactly_the_unnamed_bits(mask, era):
    rendered = format_gfp(mask, era)
    named = 0
    for token in rendered.split("|") if rendered else []:
        if not token.startswith("0x"):
            named |= dict(era.table)[token]
    leftover = mask & ~named
    if leftover:
        assert rendered.endswith(f"{leftover:#x}")
    else:
        assert "0x" not in rendered


@settings(max_examples=200, deadline=None)
@given(mask=MASKS, era=ERA)
def test_printed_text_of_an_era_is_recognised_without_release(mask, era):
    printed = format_gfp(mask, era)
    if era.prints_names:
        assert era in infer_eras_from_names(mask, printed)
    decoding = decode_gfp(mask, None, printed)
    if any(e.prints_names for e in infer_eras_from_names(mask, printed)):
        assert decoding.printed_matches is True
        assert decoding.names == printed


@settings(max_examples=300, deadline=None)
@given(mask=MASKS, release=st.one_of(st.none(), st.text(max_size=30),
                                     st.from_regex(r"[2-7]\.[0-9]{1,2}(\.[0-9]{1,3})?(-[a-z0-9.]+)?",
                                                   fullmatch=True)),
       printed=st.one_of(st.none(), st.text(max_size=40)), order=st.integers(0, 11))
def test_decode_never_crashes(mask, release, printed, order):
    decoding = decode_gfp(mask, release, printed, order=order)
    assert decoding.mask == mask
    assert isinstance(decoding.names, str)
    assert decoding.era_reason
    assert decoding.as_dict()["mask"].startswith("0x")
    assert (decoding.min_fraction is None) == ("ignores the watermarks" in decoding.reserve_discount)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_mask_text_parses_or_fails_cleanly(text):
    outcome: object
    try:
        outcome = split_mask_text(text)[0]
    except MinfreeError as error:
        outcome = error
    if isinstance(outcome, MinfreeError):
        assert "\n" not in str(outcome)
    else:
        assert 0 <= outcome <= 0xFFFFFFFF


@given(mask=st.integers(0, 0xFFFFFFFF))
def test_kernel_style_text_parses_back(mask):
    era = ERAS[-1]
    text = f"mode:{mask:#x}({format_gfp(mask, era)})"
    assert split_mask_text(text) == (mask, format_gfp(mask, era))
