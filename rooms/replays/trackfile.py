"""The per-speaker chunk format a recorder writes: each relayed frame of one speaker with its place in time.

A chunk is `SPK1`, the speaker's user id (uint32 LE), then one record per frame: position on the Space's
timeline in ms (uint32), the client's sequence number (uint32), the frame format (uint8, as in
rooms/PROTOCOL.md: 1 Opus 20 ms 48 kHz mono, 2 PCM16 16 kHz mono), the payload length (uint16) and the
payload. About 4.5 KB a second of Opus speech: the frames as they came, nothing decoded.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

MAGIC = b"SPK1"
HEAD = struct.Struct("<4sI")
RECORD = struct.Struct("<IIBH")


class TrackFileError(ValueError):
    """A chunk that is not in this format (or was cut short)."""


@dataclass(frozen=True, slots=True)
class TrackFrame:
    at_ms: int
    seq: int
    fmt: int
    payload: bytes


def pack(user_id: int, frames: list[TrackFrame]) -> bytes:
    parts = [HEAD.pack(MAGIC, user_id)]
    for frame in frames:
        parts.append(RECORD.pack(frame.at_ms, frame.seq & 0xFFFFFFFF, frame.fmt, len(frame.payload)))
        parts.append(frame.payload)
    return b"".join(parts)


def unpack(data: bytes) -> tuple[int, Iterator[TrackFrame]]:
    """The speaker's user id and the chunk's frames; raises TrackFileError on a foreign or truncated chunk."""
    if len(data) < HEAD.size:
        raise TrackFileError("chunk shorter than its header")
    magic, user_id = HEAD.unpack_from(data)
    if magic != MAGIC:
        raise TrackFileError("not a speaker chunk")

    def frames() -> Iterator[TrackFrame]:
        at, size = HEAD.size, len(data)
        while at < size:
            if at + RECORD.size > size:
                raise TrackFileError("chunk cut short in a record header")
            at_ms, seq, fmt, length = RECORD.unpack_from(data, at)
            at += RECORD.size
            if at + length > size:
                raise TrackFileError("chunk cut short in a payload")
            yield TrackFrame(at_ms, seq, fmt, data[at : at + length])
            at += length

    return user_id, frames()


SECTION_MAGIC = b"SEC1"
PACKET_LEN = struct.Struct("<H")


def pack_packets(packets: list[bytes]) -> bytes:
    """A mixed section: `SEC1`, then each 20 ms Opus packet as a uint16 LE length and its bytes."""
    parts = [SECTION_MAGIC]
    for packet in packets:
        parts.append(PACKET_LEN.pack(len(packet)))
        parts.append(packet)
    return b"".join(parts)


def unpack_packets(data: bytes) -> list[bytes]:
    if data[:4] != SECTION_MAGIC:
        raise TrackFileError("not a mixed section")
    packets, at, size = [], 4, len(data)
    while at < size:
        if at + 2 > size:
            raise TrackFileError("section cut short")
        (length,) = PACKET_LEN.unpack_from(data, at)
        at += 2
        if at + length > size:
            raise TrackFileError("section cut short")
        packets.append(data[at : at + length])
        at += length
    return packets
