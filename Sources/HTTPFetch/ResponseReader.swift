/// The status line and headers of a response.
struct ResponseHead {
    var status: Int
    var headers: [(name: String, value: String)]
}

/// How a response's body ends (RFC 9112 §6.3).
enum BodyFraming: Equatable {
    case none
    case length(Int)
    case chunked
    case untilClose
}

/// Reads one response from a connection: the head, then the body in pieces handed to a sink, so
/// that a download never holds more than one read in memory.
struct ResponseReader {
    private let connection: Connection
    private let url: String
    private var buffer: [UInt8] = []
    private var start = 0

    init(connection: Connection, url: String) {
        self.connection = connection
        self.url = url
    }

    /// The final head, after any interim 1xx responses; `limit` bounds the bytes of them all.
    mutating func readHead(limit: Int) throws(HTTPError) -> ResponseHead {
        var budget = limit
        while true {
            let statusLine = try readLine(budget: &budget, what: "the response head")
            var headers: [(name: String, value: String)] = []
            while true {
                let line = try readLine(budget: &budget, what: "the response head")
                if line.isEmpty { break }
                headers.append(try parseHeader(line))
            }
            let status = try parseStatus(statusLine)
            // 101 would switch protocols, which a request without Upgrade never asks for.
            if (100..<200).contains(status) && status != 101 { continue }
            return ResponseHead(status: status, headers: headers)
        }
    }

    private func parseStatus(_ line: [UInt8]) throws(HTTPError) -> Int {
        // `HTTP/1.1 200 OK` (RFC 9112 §4); the reason phrase may be empty.
        let text = String(decoding: line, as: UTF8.self)
        let fields = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/1."), fields[1].count == 3,
              let status = Int(fields[1]), (100...599).contains(status) else {
            throw malformed("bad status line \"\(text.prefix(80))\"")
        }
        return status
    }

    private func parseHeader(_ line: [UInt8]) throws(HTTPError) -> (name: String, value: String) {
        // RFC 9112 §5: no whitespace before the colon, no obsolete line folding.
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0,
              line[..<colon].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw malformed("bad header line \"\(String(decoding: line.prefix(80), as: UTF8.self))\"")
        }
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        var value = line[(colon + 1)...].drop(while: isSpace)
        while let last = value.last, isSpace(last) { value.removeLast() }
        return (String(decoding: line[..<colon], as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// How the body of `head`, the answer to a `method` request, is delimited.
    func framing(of head: ResponseHead, method: String) throws(HTTPError) -> BodyFraming {
        if method == "HEAD" || head.status == 204 || head.status == 304 { return .none }
        if let codings = head.headers.value(of: "Transfer-Encoding") {
            // Transfer-Encoding overrides Content-Length; a coding other than a final chunked
            // is read until the server closes.
            let last = codings.split(separator: ",").last.map { String($0).lowercased().filter { $0 != " " && $0 != "\t" } }
            return last == "chunked" ? .chunked : .untilClose
        }
        let lengths = head.headers.filter { $0.name.lowercased() == "content-length" }.map(\.value)
        guard let first = lengths.first else { return .untilClose }
        guard let length = Int(first), length >= 0, first.allSatisfy(\.isASCII), lengths.allSatisfy({ $0 == first }) else {
            throw malformed("bad Content-Length \(lengths)")
        }
        return .length(length)
    }

    /// Hands the body to `sink` piece by piece.
    mutating func readBody(_ framing: BodyFraming, into sink: (ArraySlice<UInt8>) throws(HTTPError) -> Void) throws(HTTPError) {
        switch framing {
        case .none: return
        case .length(let length): try readExactly(length, into: sink)
        case .untilClose:
            while true {
                if start == buffer.count, !(try fill()) { break }
                try sink(buffer[start...])
                start = buffer.count
            }
        case .chunked:
            // RFC 9112 §7.1: `size[;extensions]` CRLF, data CRLF, ..., `0` CRLF, trailers, CRLF.
            while true {
                var budget = 4096
                let line = try readLine(budget: &budget, what: "a chunk size")
                let digits = line.prefix { $0 != UInt8(ascii: ";") && $0 != 0x20 && $0 != 0x09 }
                guard !digits.isEmpty, digits.count <= 15, let size = Int(String(decoding: digits, as: UTF8.self), radix: 16) else {
                    throw malformed("bad chunk size \"\(String(decoding: line.prefix(40), as: UTF8.self))\"")
                }
                if size == 0 { break }
                try readExactly(size, into: sink)
                guard try readLine(budget: &budget, what: "a chunk").isEmpty else { throw malformed("chunk longer than its size") }
            }
            var budget = 64 * 1024
            while !(try readLine(budget: &budget, what: "the trailers")).isEmpty {}
        }
    }

    private mutating func readExactly(_ count: Int, into sink: (ArraySlice<UInt8>) throws(HTTPError) -> Void) throws(HTTPError) {
        var remaining = count
        while remaining > 0 {
            if start == buffer.count {
                guard try fill() else { throw .connectionLost(url: url, reason: "closed \(remaining) bytes before the end of the body") }
            }
            let piece = buffer[start..<min(buffer.count, start + remaining)]
            start += piece.count
            remaining -= piece.count
            try sink(piece)
        }
    }

    /// One line without its LF (and CR), counted against `budget`.
    private mutating func readLine(budget: inout Int, what: String) throws(HTTPError) -> [UInt8] {
        var scanned = 0
        while true {
            if let newline = buffer[(start + scanned)...].firstIndex(of: 0x0A) {
                let length = newline + 1 - start
                guard length <= budget else { break }
                budget -= length
                var line = Array(buffer[start..<newline])
                if line.last == 0x0D { line.removeLast() }
                start = newline + 1
                return line
            }
            scanned = buffer.count - start
            guard scanned <= budget else { break }
            guard try fill() else { throw .connectionLost(url: url, reason: "closed in \(what)") }
        }
        throw malformed("\(what) is longer than its limit")
    }

    /// Reads more from the connection; false at the end of the stream.
    private mutating func fill() throws(HTTPError) -> Bool {
        let bytes = try connection.read()
        if start == buffer.count {
            (buffer, start) = (bytes, 0)
        } else {
            buffer.removeFirst(start)
            buffer += bytes
            start = 0
        }
        return !bytes.isEmpty
    }

    private func malformed(_ reason: String) -> HTTPError { .malformedResponse(url: url, reason: reason) }
}
