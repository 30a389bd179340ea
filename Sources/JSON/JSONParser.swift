/// Why a text is not JSON, and where: the byte offset (0-based) and the line and column (1-based,
/// the column counted in bytes) of the first byte that is wrong.
public struct JSONError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public let offset: Int
    public let line: Int
    public let column: Int

    public var description: String { "JSON line \(line), column \(column) (byte \(offset)): \(message)" }
}

extension JSONValue {
    /// Parses one JSON text (RFC 8259, UTF-8, no byte order mark), strictly: no trailing commas,
    /// comments, leading zeros, NaN/Infinity, lone surrogates, duplicate keys or control characters
    /// in strings. Nesting deeper than `maxDepth` is refused so that hostile input cannot exhaust
    /// the stack.
    public init(parsing bytes: [UInt8], maxDepth: Int = 512) throws(JSONError) {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        self = try parser.parseDocument()
    }

    public init(parsing text: String, maxDepth: Int = 512) throws(JSONError) {
        try self.init(parsing: Array(text.utf8), maxDepth: maxDepth)
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    let maxDepth: Int
    var position = 0
    var depth = 0

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard position == bytes.count else { throw error("unexpected \(describe(position)) after the value") }
        return value
    }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { position += 1 }
    }

    private mutating func parseValue() throws(JSONError) -> JSONValue {
        guard let byte = current else { throw error("expected a value, found end of input") }
        switch byte {
        case UInt8(ascii: "{"): return try nested { (parser: inout JSONParser) throws(JSONError) in try parser.parseObject() }
        case UInt8(ascii: "["): return try nested { (parser: inout JSONParser) throws(JSONError) in try parser.parseArray() }
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("expected a value, found \(describe(position))")
        }
    }

    private mutating func nested(_ parse: (inout JSONParser) throws(JSONError) -> JSONValue) throws(JSONError) -> JSONValue {
        guard depth < maxDepth else { throw error("nested deeper than \(maxDepth) levels") }
        depth += 1
        defer { depth -= 1 }
        return try parse(&self)
    }

    private mutating func parseObject() throws(JSONError) -> JSONValue {
        position += 1
        var members: [(key: String, value: JSONValue)] = []
        var keys = Set<String>()
        skipWhitespace()
        if current == UInt8(ascii: "}") { position += 1; return .object(members) }
        while true {
            skipWhitespace()
            let keyStart = position
            guard current == UInt8(ascii: "\"") else {
                throw error(current == UInt8(ascii: "}") ? "trailing comma in object" : "expected a string key, found \(describe(position))")
            }
            let key = try parseString()
            guard keys.insert(key).inserted else { throw error("duplicate key \"\(key)\"", at: keyStart) }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected ':' after the key, found \(describe(position))") }
            position += 1
            skipWhitespace()
            members.append((key: key, value: try parseValue()))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return .object(members)
            default: throw error("expected ',' or '}' in object, found \(describe(position))")
            }
        }
    }

    private mutating func parseArray() throws(JSONError) -> JSONValue {
        position += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { position += 1; return .array(elements) }
        while true {
            skipWhitespace()
            if current == UInt8(ascii: "]") { throw error("trailing comma in array") }
            elements.append(try parseValue())
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return .array(elements)
            default: throw error("expected ',' or ']' in array, found \(describe(position))")
            }
        }
    }

    private mutating func expectWord(_ word: StaticString) throws(JSONError) {
        let start = position
        for byte in UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount) {
            guard current == byte else { throw error("expected \(word)", at: start) }
            position += 1
        }
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private mutating func parseNumber() throws(JSONError) -> JSONValue {
        let start = position
        if current == UInt8(ascii: "-") { position += 1 }
        guard let first = current, isDigit(first) else { throw error("expected a digit, found \(describe(position))") }
        position += 1
        if first == UInt8(ascii: "0"), let next = current, isDigit(next) { throw error("leading zero in a number", at: start) }
        skipDigits()
        var isInteger = true
        if current == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard let digit = current, isDigit(digit) else { throw error("expected a digit after '.', found \(describe(position))") }
            skipDigits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard let digit = current, isDigit(digit) else { throw error("expected a digit in the exponent, found \(describe(position))") }
            skipDigits()
        }
        let literal = String(decoding: bytes[start..<position], as: UTF8.self)
        // "-0" is kept as a Double, the only kind that has a negative zero.
        if isInteger, literal != "-0", let integer = Int64(literal) { return .integer(integer) }
        guard let number = Double(literal), number.isFinite else { throw error("number \(literal) is out of range", at: start) }
        return .number(number)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    private mutating func skipDigits() { while let byte = current, isDigit(byte) { position += 1 } }

    private mutating func parseString() throws(JSONError) -> String {
        let start = position
        position += 1
        var scalars = String.UnicodeScalarView()
        var runStart = position
        while true {
            guard let byte = current else { throw error("unterminated string", at: start) }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                try appendRun(from: runStart, to: &scalars)
                if byte == UInt8(ascii: "\"") {
                    position += 1
                    return String(scalars)
                }
                scalars.append(try parseEscape())
                runStart = position
            case 0x00..<0x20:
                throw error("unescaped control character U+\(hex(byte, width: 4)) in string")
            default:
                position += 1
            }
        }
    }

    /// The unescaped bytes from `start` up to here, which must be UTF-8.
    private func appendRun(from start: Int, to scalars: inout String.UnicodeScalarView) throws(JSONError) {
        guard start < position else { return }
        guard let run = String(validating: bytes[start..<position], as: UTF8.self) else {
            throw error("invalid UTF-8 in string", at: start)
        }
        scalars.append(contentsOf: run.unicodeScalars)
    }

    private mutating func parseEscape() throws(JSONError) -> Unicode.Scalar {
        let start = position
        position += 1
        guard let letter = current else { throw error("unterminated string", at: start) }
        position += 1
        switch letter {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let unit = try parseHex4(escapeStart: start)
            switch unit {
            case 0xD800..<0xDC00:
                // A high surrogate must be followed by an escaped low one (RFC 8259 §7).
                guard current == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u") else {
                    throw error("lone surrogate \\u\(hex(unit, width: 4))", at: start)
                }
                position += 2
                let low = try parseHex4(escapeStart: position - 2)
                guard (0xDC00..<0xE000).contains(low) else { throw error("lone surrogate \\u\(hex(unit, width: 4))", at: start) }
                return Unicode.Scalar(0x10000 + (unit - 0xD800) << 10 + (low - 0xDC00))!
            case 0xDC00..<0xE000:
                throw error("lone surrogate \\u\(hex(unit, width: 4))", at: start)
            default:
                return Unicode.Scalar(unit)!
            }
        default:
            throw error("invalid escape \\\(describe(position - 1))", at: start)
        }
    }

    private mutating func parseHex4(escapeStart: Int) throws(JSONError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = current, let digit = hexDigit(byte) else { throw error("\\u needs four hex digits", at: escapeStart) }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private func hexDigit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    private func describe(_ offset: Int) -> String {
        guard offset < bytes.count else { return "end of input" }
        let byte = bytes[offset]
        return (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(hex(byte, width: 2))"
    }

    private func error(_ message: String, at offset: Int? = nil) -> JSONError {
        let offset = offset ?? position
        let before = bytes[..<min(offset, bytes.count)]
        let line = before.count { $0 == 0x0A } + 1
        let lineStart = before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        return JSONError(message: message, offset: offset, line: line, column: offset - lineStart + 1)
    }
}

func hex(_ value: some BinaryInteger, width: Int) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
