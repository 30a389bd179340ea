/// What coresdk needs to know about SQL text without parsing it: which bytes are code and which
/// are inside a string literal, a quoted identifier or a comment. Statements are written once,
/// PostgreSQL-style, and this is what lets SQLite run the same text.
enum SQLText {
    /// `sql` with each `$N` placeholder written `?N`, SQLite's numbered form, which binds the
    /// same value to every use of the number as PostgreSQL does. `'$1'` in a literal stays.
    static func sqlitePlaceholders(_ sql: String) -> String {
        var bytes = Array(sql.utf8)
        var changed = false
        forEachCodeByte(bytes) { index in
            if bytes[index] == UInt8(ascii: "$"), index + 1 < bytes.count, isDigit(bytes[index + 1]),
               index == 0 || !isIdentifierByte(bytes[index - 1]) {
                bytes[index] = UInt8(ascii: "?")
                changed = true
            }
        }
        return changed ? String(decoding: bytes, as: UTF8.self) : sql
    }

    /// The statements of a script, split at the semicolons between them; empty ones and those
    /// that are only comments are left out. Each can then be run alone, as PostgreSQL's
    /// extended protocol and a prepared SQLite statement both require.
    static func statements(_ sql: String) -> [String] {
        let bytes = Array(sql.utf8)
        var ends: [Int] = []
        var hasCode = false
        var codeSinceLastEnd: [Bool] = []
        forEachCodeByte(bytes) { index in
            if bytes[index] == UInt8(ascii: ";") {
                ends.append(index)
                codeSinceLastEnd.append(hasCode)
                hasCode = false
            } else if !isSpace(bytes[index]) {
                hasCode = true
            }
        }
        ends.append(bytes.count)
        codeSinceLastEnd.append(hasCode)
        var statements: [String] = []
        var start = 0
        for (end, hasCode) in zip(ends, codeSinceLastEnd) {
            if hasCode { statements.append(String(decoding: bytes[start..<end], as: UTF8.self)) }
            start = end + 1
        }
        return statements
    }

    /// Calls `body` with the index of every byte that is code: outside '…' and E'…' literals,
    /// "…" and `…` identifiers, $tag$…$tag$ bodies, -- and /* */ comments.
    private static func forEachCodeByte(_ bytes: [UInt8], _ body: (Int) -> Void) {
        var index = 0
        func skip(to closing: [UInt8], from start: Int) -> Int {
            var at = start
            while at + closing.count <= bytes.count {
                if bytes[at..<at + closing.count].elementsEqual(closing) { return at + closing.count }
                at += 1
            }
            return bytes.count
        }
        while index < bytes.count {
            let byte = bytes[index]
            let next = index + 1 < bytes.count ? bytes[index + 1] : 0
            let followsIdentifier = index > 0 && isIdentifierByte(bytes[index - 1])
            switch byte {
            case UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "`"):
                // A doubled quote is the quote itself; E'…' literals (PostgreSQL) also escape with \.
                let backslashEscapes = byte == UInt8(ascii: "'") && index > 0
                    && (bytes[index - 1] == UInt8(ascii: "E") || bytes[index - 1] == UInt8(ascii: "e"))
                    && (index == 1 || !isIdentifierByte(bytes[index - 2]))
                var at = index + 1
                while at < bytes.count {
                    if backslashEscapes && bytes[at] == UInt8(ascii: "\\") { at += 2; continue }
                    if bytes[at] == byte {
                        if at + 1 < bytes.count && bytes[at + 1] == byte { at += 2; continue }
                        break
                    }
                    at += 1
                }
                index = at + 1
            case UInt8(ascii: "-") where next == UInt8(ascii: "-"):
                index = skip(to: [UInt8(ascii: "\n")], from: index + 2)
            case UInt8(ascii: "/") where next == UInt8(ascii: "*"):
                index = skip(to: [UInt8(ascii: "*"), UInt8(ascii: "/")], from: index + 2)
            case UInt8(ascii: "$") where !followsIdentifier && !isDigit(next):
                // $$…$$ or $tag$…$tag$ (PostgreSQL); a lone $ is left to the database to reject.
                var tagEnd = index + 1
                while tagEnd < bytes.count && isIdentifierByte(bytes[tagEnd]) && bytes[tagEnd] != UInt8(ascii: "$") { tagEnd += 1 }
                if tagEnd < bytes.count && bytes[tagEnd] == UInt8(ascii: "$") {
                    let tag = Array(bytes[index...tagEnd])
                    index = skip(to: tag, from: tagEnd + 1)
                } else {
                    body(index)
                    index += 1
                }
            default:
                body(index)
                index += 1
            }
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }

    /// Letters, digits, _ and $ continue an identifier in PostgreSQL; bytes of non-ASCII
    /// characters count as letters.
    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || byte >= 0x80 || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "$")
            || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z"))
    }
}
