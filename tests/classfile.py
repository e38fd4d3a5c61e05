"""Read the two sizes the JVM limits from compiled class files: string constants and method code.

Only what the limits need is parsed (JVM spec §4.1, §4.4, §4.7.3): the constant pool
(every CONSTANT_Utf8's byte length) and each method's Code attribute (code_length).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

# Constant pool entry sizes after the tag byte (Utf8 is variable); Long and Double take two slots.
_FIXED = {3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 2, 9: 4, 10: 4, 11: 4, 12: 4, 15: 3, 16: 2,
          17: 4, 18: 4, 19: 2, 20: 2}


@dataclass(frozen=True)
class ClassSizes:
    """The largest string constant and the code length of each method of one class."""

    name: str
    utf8_lengths: list[int]
    method_code: dict[str, int]


def read(path: Path) -> ClassSizes:
    """Sizes of one .class file."""
    data = path.read_bytes()
    count = struct.unpack_from(">H", data, 8)[0]
    offset, index, utf8 = 10, 1, {}
    while index < count:
        tag = data[offset]
        if tag == 1:
            length = struct.unpack_from(">H", data, offset + 1)[0]
            utf8[index] = data[offset + 3:offset + 3 + length]
            offset += 3 + length
        else:
            offset += 1 + _FIXED[tag]
        index += 2 if tag in (5, 6) else 1
    offset += 6  # access flags, this class, super class
    offset += 2 + 2 * struct.unpack_from(">H", data, offset)[0]  # interfaces
    offset, _ = _members(data, offset, utf8)  # fields
    _, methods = _members(data, offset, utf8)
    return ClassSizes(path.name, [len(v) for v in utf8.values()], methods)


def _members(data: bytes, offset: int, utf8: dict[int, bytes]) -> tuple[int, dict[str, int]]:
    """Skip a fields or methods table; the code length of each member that has code."""
    code: dict[str, int] = {}
    count, offset = struct.unpack_from(">H", data, offset)[0], offset + 2
    for _ in range(count):
        name_index, attributes = struct.unpack_from(">H", data, offset + 2)[0], \
            struct.unpack_from(">H", data, offset + 6)[0]
        name = utf8[name_index].decode("utf-8", "replace")
        offset += 8
        for _ in range(attributes):
            attribute, length = struct.unpack_from(">HI", data, offset)
            if utf8[attribute] == b"Code":
                code[name] = max(code.get(name, 0), struct.unpack_from(">I", data, offset + 10)[0])
            offset += 6 + length
    return offset, code
