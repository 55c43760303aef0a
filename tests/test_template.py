import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hawiya.biometrics.template import Template
from hawiya.errors import InvalidInput, TemplateMismatch


def _tpl(version=1, modality="face"):
    vec = np.arange(128, dtype=np.float32)
    return Template(modality=modality, algorithm="dlib-resnet", version=version,
                    data=vec.tobytes(), quality=80, position="frontal", meta={"box": [1, 2]})


def test_round_trip_keeps_every_field():
    t = _tpl()
    back = Template.from_bytes(t.to_bytes())
    assert back == t
    assert np.array_equal(back.vector(), np.arange(128, dtype=np.float32))


def test_old_algorithm_version_is_refused_for_comparison():
    with pytest.raises(TemplateMismatch, match="re-extract"):
        _tpl(1).check_compatible(_tpl(2))
    with pytest.raises(TemplateMismatch):
        _tpl(modality="face").check_compatible(_tpl(modality="iris"))


@pytest.mark.parametrize("blob", [b"", b"XXXX\x01\x00\x02{}", b"HWYT\x09\x00\x00",
                                  b"HWYT\x01\xff\xff{}", b"HWYT\x01\x00\x02{}"])
def test_malformed_blobs_raise_clear_errors(blob):
    with pytest.raises(InvalidInput):
        Template.from_bytes(blob)


@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_decoder(blob):
    try:
        Template.from_bytes(b"HWYT\x01" + blob)
    except InvalidInput:
        pass


def test_quality_bounds():
    with pytest.raises(InvalidInput):
        Template(modality="face", algorithm="x", version=1, data=b"", quality=101)
    with pytest.raises(InvalidInput):
        Template(modality="Voice print!", algorithm="x", version=1, data=b"")
    # Which modalities exist is the registry's word (plug-ins add more).
    from hawiya.biometrics import modalities

    with pytest.raises(InvalidInput, match="unknown modality 'voice'"):
        modalities.get("voice")
