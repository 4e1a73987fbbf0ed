"""The frame checks every rooms/media.py must make (see media-contract): good frames pass, bad ones
raise FrameError carrying a close code from the documented 4xxx range."""

import struct

import pytest

from rooms import media


def frame(fmt=1, payload=b"\x00" * 40):
    return struct.pack("<BId", fmt, 7, 1234.5) + payload


def test_well_formed_opus_and_pcm_frames_pass():
    media.validate_frame(frame(1))
    media.validate_frame(frame(2, b"\x00" * (4096 - 13)))


@pytest.mark.parametrize(
    "bad",
    [frame(1, b"\x00" * (4096 - 12)), b"\x01\x00\x00", frame(3)],
    ids=["over 4096 bytes", "shorter than the header", "unknown format"],
)
def test_malformed_frames_raise_frame_error_with_a_close_code(bad):
    with pytest.raises(media.FrameError) as error:
        media.validate_frame(bad)
    assert 4000 <= error.value.close_code <= 4999
