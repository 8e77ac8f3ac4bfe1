"""The servers' one parser of request parameters (servers/common/forms.py), RFC 6749 §3.1 and §3.2."""
from __future__ import annotations

import pytest

from servers.common.errors import InvalidRequest
from servers.common.forms import MAX_FIELDS, parse_pairs, parse_params

DEFINED = frozenset({"grant_type", "scope"})


def test_unrecognized_parameters_are_ignored_even_when_repeated():
    """RFC 6749 §3.1: "The authorization server MUST ignore unrecognized request parameters"."""
    assert parse_params("grant_type=x&ext=1&ext=2", DEFINED) == {"grant_type": "x", "ext": "1"}


@pytest.mark.parametrize("text", ["grant_type=x&grant_type=x", "scope=a&grant_type=x&scope=b",
                                  "grant_type=x&grant_type="])
def test_a_repeated_defined_parameter_is_invalid_request(text):
    """RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once"; a repeat counts
    even when one of the values is empty."""
    with pytest.raises(InvalidRequest, match="repeated"):
        parse_params(text, DEFINED)


def test_parameters_without_a_value_are_omitted():
    """RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted from the
    request"."""
    assert parse_params("grant_type=x&scope=", DEFINED) == {"grant_type": "x"}


def test_repeats_are_reported_for_the_endpoint_to_answer():
    """The authorization endpoint answers a repeat itself (error page or redirect, RFC 6749 §4.1.2.1), so the
    parser reports which defined parameters were repeated instead of refusing."""
    params, repeated = parse_pairs("scope=a&scope=b&ext=1&ext=2&grant_type=x", DEFINED, strict=False)
    assert params == {"scope": "a", "ext": "1", "grant_type": "x"} and repeated == {"scope"}


@pytest.mark.parametrize("text", ["grant_type", "a=%zz&b", "grant_type=%ff"])
def test_a_malformed_body_is_invalid_request(text):
    """RFC 6749 Appendix B: a body is application/x-www-form-urlencoded UTF-8; anything else is a 400
    ``invalid_request``, never a 500."""
    with pytest.raises(InvalidRequest, match="malformed"):
        parse_params(text, DEFINED)


def test_too_many_fields_are_refused_with_or_without_escapes():
    with pytest.raises(InvalidRequest, match="malformed"):
        parse_params("&".join(f"f{i}=1" for i in range(MAX_FIELDS + 1)), DEFINED)
    with pytest.raises(InvalidRequest, match="malformed"):
        parse_params("&".join(f"f{i}=%41" for i in range(MAX_FIELDS + 1)), DEFINED)
