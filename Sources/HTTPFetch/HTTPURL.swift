/// An `http://host[:port][/path][?query]` URL as a request needs it (RFC 9110 §4.2.1). There is no
/// `https`: HTTPFetch does not do TLS yet.
struct HTTPURL: Equatable, CustomStringConvertible {
    var host: String
    var port: Int
    /// The path and query, as sent in the request line (RFC 9112 §3.2.1, origin-form).
    var target: String

    init(parsing text: String) throws(HTTPError) {
        func invalid(_ reason: String) -> HTTPError { .invalidRequest(url: text, reason: reason) }
        guard let colon = Self.schemeEnd(text) else { throw invalid("not an absolute http:// URL") }
        switch text[..<colon].lowercased() {
        case "http": break
        case "https": throw invalid("https is not supported (HTTPFetch has no TLS yet); use http://")
        case let scheme: throw invalid("unsupported scheme \(scheme)://; use http://")
        }
        let rest = text[colon...].dropFirst(3).prefix { $0 != "#" }
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        let target = rest.dropFirst(authority.count)
        guard !authority.contains("@") else { throw invalid("user names and passwords in URLs are not supported") }
        var hostPart = Substring(authority), portPart: Substring?
        if authority.hasPrefix("[") {
            // An IPv6 literal: `[::1]:8080`.
            guard let close = authority.firstIndex(of: "]") else { throw invalid("unclosed [ in the host") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("unexpected text after the host") }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { throw invalid("no host") }
        guard hostPart.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "%" }) else { throw invalid("bad character in the host") }
        host = String(hostPart)
        if let portPart {
            guard let port = Int(portPart), (1...65535).contains(port), portPart.allSatisfy(\.isASCII) else {
                throw invalid("bad port \"\(portPart)\"")
            }
            self.port = port
        } else {
            port = 80
        }
        guard target.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else { throw invalid("spaces or non-ASCII characters in the path (percent-encode them)") }
        self.target = target.isEmpty ? "/" : target.hasPrefix("?") ? "/" + target : String(target)
    }

    /// What the `Host` header says: the port only when it is not 80.
    var authority: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? name : "\(name):\(port)"
    }

    var description: String { "http://\(authority)\(target)" }

    /// Where the scheme of `text` ends: the colon of a leading `scheme://`.
    private static func schemeEnd(_ text: String) -> String.Index? {
        guard let colon = text.firstIndex(of: ":"), colon > text.startIndex, text[colon...].hasPrefix("://"),
              text[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }) else { return nil }
        return colon
    }

    /// The URL a redirect's `Location` names, relative to this one (RFC 9110 §10.2.2, RFC 3986 §5.2).
    func resolving(_ location: String) throws(HTTPError) -> HTTPURL {
        if Self.schemeEnd(location) != nil { return try HTTPURL(parsing: location) }
        if location.hasPrefix("//") { return try HTTPURL(parsing: "http:" + location) }
        let path = target.prefix { $0 != "?" }
        let base = location.hasPrefix("/") ? "" : String(path[...(path.lastIndex(of: "/") ?? path.startIndex)])
        return try HTTPURL(parsing: "http://\(authority)\(base)\(location)")
    }
}
