import JSON
import Testing

@Suite struct JSONRoundTripTests {
    @Test(arguments: [
        #"null"#, #"true"#, #"false"#, #"0"#, #"-12"#, #"9223372036854775807"#, #"-9223372036854775808"#,
        #"0.5"#, #"-0.0"#, #"1e+20"#, "\"\"", #""a\"b\\c""#, #"[]"#, #"{}"#, #"[1,[2,[3]],{"a":null}]"#,
        #"{"semaphore":1,"max":1,"holders":["id"]}"#, #""é€😀/""#,
    ])
    func compactTextIsWrittenBackByteForByte(text: String) throws {
        #expect(try JSONValue(parsing: text).serialized == text)
    }

    @Test func integersBeyondADoubleStayExact() throws {
        let revision = try JSONValue(parsing: "9007199254740993")
        #expect(revision == .integer(9_007_199_254_740_993))
        #expect(revision.int64Value == 9_007_199_254_740_993)
        #expect(try JSONValue(parsing: "1.5") == .number(1.5))
        #expect(try JSONValue(parsing: "1e2") == .number(100), "an exponent makes a Double even when whole")
        #expect(try JSONValue(parsing: "9223372036854775808") == .number(9_223_372_036_854_775_808), "past Int64")
    }

    @Test func literalsBuildObjectsInTheOrderWritten() {
        let semaphore: JSONValue = ["semaphore": 1, "max": 1, "holders": ["id"]]
        #expect(semaphore.serialized == #"{"semaphore":1,"max":1,"holders":["id"]}"#)
        #expect(semaphore["holders"]?[0]?.stringValue == "id")
        #expect(semaphore["max"]?.int64Value == 1)
        #expect(semaphore["missing"] == nil)
        #expect(semaphore[0] == nil)
    }

    @Test func objectsCompareByMembersNotOrder() throws {
        #expect(try JSONValue(parsing: #"{"a":1,"b":[true]}"#) == JSONValue(parsing: #" { "b" : [ true ] , "a" : 1 } "#))
        #expect(try JSONValue(parsing: #"{"a":1}"#) != JSONValue(parsing: #"{"a":1,"b":2}"#))
        #expect(JSONValue.integer(1) != .number(1))
    }

    @Test func whitespaceBetweenTokensIsAccepted() throws {
        #expect(try JSONValue(parsing: " \t\r\n[ 1 ,\n2 ] \n") == [1, 2])
    }
}

@Suite struct JSONStringTests {
    @Test func escapesAreDecoded() throws {
        let value = try JSONValue(parsing: #""\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC""#)
        #expect(value == .string("\"\\/\u{08}\u{0C}\n\r\tAé€"))
    }

    @Test func surrogatePairsMakeOneScalar() throws {
        #expect(try JSONValue(parsing: #""\uD83D\uDE00""#) == .string("😀"))
        #expect(try JSONValue(parsing: #""\ud834\udd1e""#) == .string("𝄞"))
    }

    @Test func controlCharactersAreEscapedWhenWritten() throws {
        let text: JSONValue = .string("a\u{0}\u{1F}\n\t\"\\\u{7F}")
        #expect(text.serialized == #""a\u0000\u001F\n\t\"\\\#u{7F}""#)
        #expect(try JSONValue(parsing: text.serialized) == text)
    }

    @Test func nonFiniteNumbersAreWrittenAsNull() {
        #expect(JSONValue.array([.number(.nan), .number(.infinity)]).serialized == "[null,null]")
    }
}

@Suite struct JSONRejectionTests {
    /// Each refused text, the message fragment, and the 0-based offset of the byte at fault.
    @Test(arguments: [
        (#"[1,2,]"#, "trailing comma", 5),
        (#"{"a":1,}"#, "trailing comma", 7),
        (#""\x""#, "invalid escape", 1),
        (#""\u12""#, "four hex digits", 1),
        (#""\uD800""#, "lone surrogate", 1),
        (#""\uDC00x""#, "lone surrogate", 1),
        (#""\uD800\u0041""#, "lone surrogate", 1),
        ("01", "leading zero", 0),
        ("-01", "leading zero", 0),
        ("NaN", "expected a value", 0),
        ("-Infinity", "expected a digit", 1),
        ("1.", "digit after '.'", 2),
        ("1e", "exponent", 2),
        ("1e999", "out of range", 0),
        ("[1] x", "after the value", 4),
        ("", "expected a value", 0),
        (#"{"a" 1}"#, "expected ':'", 5),
        (#"{"a":1,"a":2}"#, "duplicate key", 7),
        (#"{1:2}"#, "string key", 1),
        ("\"a\u{1}\"", "control character", 2),
        ("\"abc", "unterminated", 0),
        ("tru", "expected true", 0),
        ("// comment\n1", "expected a value", 0),
        ("\u{FEFF}1", "expected a value", 0),
    ])
    func refusedWithPosition(text: String, message: String, offset: Int) {
        #expect {
            try JSONValue(parsing: text)
        } throws: { error in
            guard let error = error as? JSONError else { return false }
            return error.message.contains(message) && error.offset == offset
        }
    }

    @Test func invalidUTF8InAStringIsRefused() {
        #expect(throws: JSONError.self) { try JSONValue(parsing: [0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONError.self) { try JSONValue(parsing: [0x22, 0xED, 0xA0, 0x80, 0x22]) }
    }

    @Test func aDepthBombStopsAtTheLimitInsteadOfOverflowingTheStack() throws {
        let bomb = String(repeating: "[", count: 100_000)
        #expect {
            try JSONValue(parsing: bomb)
        } throws: { error in
            (error as? JSONError).map { $0.message.contains("deeper than 512") && $0.offset == 512 } ?? false
        }
        let deep = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(try JSONValue(parsing: deep).arrayValue?.count == 1)
    }

    @Test func errorsSayLineAndColumn() {
        #expect {
            try JSONValue(parsing: "{\n  \"a\": 1,\n  \"b\": tru\n}")
        } throws: { error in
            "\(error)" == "JSON line 3, column 8 (byte 19): expected true"
        }
    }
}
