/// The bytes of a document and what the reader asks of them: UTF-8 decoding, XML character
/// classes, and where a byte offset is in lines and columns.
struct XMLInput {
    let bytes: [UInt8]

    var count: Int { bytes.count }

    /// Positions are computed only when an error is reported, so the reader's loop counts nothing.
    func error(at offset: Int, _ message: String) -> XMLError {
        var line = 1
        var column = 1
        for byte in bytes[..<min(max(offset, 0), bytes.count)] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                // Continuation bytes belong to the scalar already counted.
                column += 1
            }
        }
        return XMLError(line: line, column: column, message: message)
    }

    /// Checks once, up front, that the whole input is UTF-8 of XML characters (XML 1.0 §2.2), so
    /// that later slices can be turned into strings without a replacement character sneaking in.
    func validateCharacters() throws(XMLError) {
        var offset = 0
        while offset < bytes.count {
            // ASCII fast path: everything from space up, plus tab, newline and carriage return.
            let byte = bytes[offset]
            if byte >= 0x20 && byte < 0x80 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                offset += 1
                continue
            }
            guard let (scalar, length) = scalar(at: offset) else { throw error(at: offset, "invalid UTF-8") }
            guard Self.isCharacter(scalar) else {
                throw error(at: offset, "character U+\(Self.hex(scalar)) is not allowed in XML")
            }
            offset += length
        }
    }

    /// The scalar starting at `offset` and its length in bytes; nil for malformed, overlong or
    /// surrogate encodings (RFC 3629 §4).
    func scalar(at offset: Int) -> (UInt32, Int)? {
        guard offset < bytes.count else { return nil }
        let lead = bytes[offset]
        let length: Int
        let minimum: UInt32
        var value: UInt32
        switch lead {
        case 0x00...0x7F: return (UInt32(lead), 1)
        case 0xC2...0xDF: (length, minimum, value) = (2, 0x80, UInt32(lead & 0x1F))
        case 0xE0...0xEF: (length, minimum, value) = (3, 0x800, UInt32(lead & 0x0F))
        case 0xF0...0xF4: (length, minimum, value) = (4, 0x10000, UInt32(lead & 0x07))
        default: return nil
        }
        guard offset + length <= bytes.count else { return nil }
        for next in bytes[(offset + 1)..<(offset + length)] {
            guard next & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(next & 0x3F)
        }
        guard value >= minimum, value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value) else { return nil }
        return (value, length)
    }

    func string(_ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    /// Character data with line ends normalised as XML 1.0 §2.11 requires (CRLF and lone CR become
    /// LF); in an attribute value §3.3.3 further turns each tab and line end into a space.
    func text(_ range: Range<Int>, inAttribute: Bool = false) -> String {
        let slice = bytes[range]
        guard slice.contains(where: { $0 == 0x0D || inAttribute && ($0 == 0x09 || $0 == 0x0A) }) else {
            return string(range)
        }
        var normalized: [UInt8] = []
        normalized.reserveCapacity(slice.count)
        var index = slice.startIndex
        while index < slice.endIndex {
            var byte = slice[index]
            index += 1
            if byte == 0x0D {
                if index < slice.endIndex && slice[index] == 0x0A { index += 1 }
                byte = 0x0A
            }
            normalized.append(inAttribute && (byte == 0x09 || byte == 0x0A) ? 0x20 : byte)
        }
        return String(decoding: normalized, as: UTF8.self)
    }

    func hasPrefix(_ text: StaticString, at offset: Int) -> Bool {
        let count = text.utf8CodeUnitCount
        guard offset + count <= bytes.count else { return false }
        return text.withUTF8Buffer { prefix in
            prefix.indices.allSatisfy { bytes[offset + $0] == prefix[$0] }
        }
    }

    func firstOffset(of text: StaticString, from start: Int) -> Int? {
        (start..<max(start, bytes.count)).first { hasPrefix(text, at: $0) }
    }

    func isWhitespace(at offset: Int) -> Bool {
        offset < bytes.count && Self.isWhitespace(bytes[offset])
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// XML 1.0 §2.2 `Char`.
    static func isCharacter(_ scalar: UInt32) -> Bool {
        switch scalar {
        case 0x09, 0x0A, 0x0D, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: true
        default: false
        }
    }

    /// XML 1.0 (fifth edition) §2.3 `NameStartChar`.
    static func isNameStart(_ scalar: UInt32) -> Bool {
        switch scalar {
        case 0x3A, 0x41...0x5A, 0x5F, 0x61...0x7A, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x2FF, 0x370...0x37D,
             0x37F...0x1FFF, 0x200C...0x200D, 0x2070...0x218F, 0x2C00...0x2FEF, 0x3001...0xD7FF,
             0xF900...0xFDCF, 0xFDF0...0xFFFD, 0x10000...0xEFFFF: true
        default: false
        }
    }

    /// §2.3 `NameChar`.
    static func isNameCharacter(_ scalar: UInt32) -> Bool {
        switch scalar {
        case 0x2D, 0x2E, 0x30...0x39, 0xB7, 0x300...0x36F, 0x203F...0x2040: true
        default: isNameStart(scalar)
        }
    }

    static func hex(_ scalar: UInt32) -> String {
        let digits = String(scalar, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
