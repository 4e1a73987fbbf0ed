"""The frame checks of the channel-layer relay (rooms/media.py, see media-contract)."""

import struct

import pytest

from rooms import media


def frame(fmt=1, payload=b"\x00" * 40):
    return struct.pack("<BId", fmt, 7, 1234.5) + payload


def test_well_formed_opus_and_pcm_frames_pass():
    media.validate_frame(frame(1))
    media.validate_frame(frame(2, b"\x00" * (4096 - 13)))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (frame(1, b"\x00" * (4096 - 12)), "over the 4096-byte limit"),
        (b"\x01\x00\x00", "shorter than the 13-byte header"),
        (frame(3), "unknown frame format 3"),
    ],
)
def test_malformed_frames_raise_with_the_documented_close_code(bad, message):
    with pytest.raises(media.FrameError, match=message) as error:
        media.validate_frame(bad)
    assert error.value.close_code == 4400
