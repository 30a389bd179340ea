/// A blocking HTTP/1.1 client over POSIX sockets, one connection per request (`Connection:
/// close`), for the in-image agents, which cannot afford Foundation. Plain `http://` only: TLS is
/// not supported yet. The limits are update_engine's libcurl settings.
public struct HTTPFetcher: Sendable {
    /// Seconds a connection may take to be established.
    public var connectTimeout: Int
    /// A transfer averaging fewer than `bytes` per second over `seconds` is abandoned as stalled;
    /// this is also how long a server that says nothing is waited for.
    public var lowSpeedLimit: (bytes: Int, seconds: Int)
    public var maxRedirects: Int
    /// The most bytes a response's status line and headers may take.
    public var maxHeaderSize = 64 * 1024

    public init(connectTimeout: Int = 30, lowSpeedLimit: (bytes: Int, seconds: Int) = (10, 90), maxRedirects: Int = 10) {
        self.connectTimeout = connectTimeout
        self.lowSpeedLimit = lowSpeedLimit
        self.maxRedirects = maxRedirects
    }

    /// Sends `request`, follows redirects, and returns the final response whatever its status,
    /// with a body of at most `maxBodySize` bytes (a larger one is refused, not truncated).
    public func send(_ request: HTTPRequest, maxBodySize: Int) throws(HTTPError) -> HTTPResponse {
        var response = try open(request)
        let tooLarge = HTTPError.bodyTooLarge(url: response.url.description, limit: maxBodySize)
        if case .length(let length) = response.framing, length > maxBodySize { throw tooLarge }
        var body: [UInt8] = []
        try response.readBody { (piece: ArraySlice<UInt8>) throws(HTTPError) in
            guard body.count + piece.count <= maxBodySize else { throw tooLarge }
            body += piece
        }
        return HTTPResponse(status: response.head.status, headers: response.head.headers, body: body)
    }

    /// Sends `request` and reads the head of the final response, after redirects (RFC 9110
    /// §15.4): a 303 turns into a GET without a body, the others repeat the request.
    func open(_ request: HTTPRequest) throws(HTTPError) -> OpenResponse {
        var request = request
        var url = try HTTPURL(parsing: request.url)
        var redirects = 0
        while true {
            let connection = try Connection(to: url, connectTimeout: connectTimeout, lowSpeedLimit: lowSpeedLimit)
            try connection.write(try Self.encode(request, to: url))
            var reader = ResponseReader(connection: connection, url: url.description)
            let head = try reader.readHead(limit: maxHeaderSize)
            guard [301, 302, 303, 307, 308].contains(head.status), let location = head.headers.value(of: "Location") else {
                return OpenResponse(head: head, framing: try reader.framing(of: head, method: request.method), url: url, reader: reader)
            }
            guard redirects < maxRedirects else { throw .tooManyRedirects(url: url.description, limit: maxRedirects) }
            redirects += 1
            url = try url.resolving(location)
            request.url = url.description
            if head.status == 303 && request.method != "HEAD" {
                request.method = "GET"
                request.body = []
            }
        }
    }

    /// A final response whose head is read and whose body is not yet.
    struct OpenResponse {
        let head: ResponseHead
        let framing: BodyFraming
        /// Where it came from, after redirects.
        let url: HTTPURL
        var reader: ResponseReader

        mutating func readBody(into sink: (ArraySlice<UInt8>) throws(HTTPError) -> Void) throws(HTTPError) {
            try reader.readBody(framing, into: sink)
        }
    }

    /// The request's bytes (RFC 9112 §3), refusing CR, LF and NUL anywhere they could split it.
    private static func encode(_ request: HTTPRequest, to url: HTTPURL) throws(HTTPError) -> [UInt8] {
        let managed: Set<String> = ["host", "content-length", "connection", "transfer-encoding"]
        var headers = [("Host", url.authority)] + request.headers.filter { !managed.contains($0.name.lowercased()) }
        if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(request.method) {
            headers.append(("Content-Length", String(request.body.count)))
        }
        headers.append(("Connection", "close"))
        let isToken = { (text: String) in !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") } }
        guard isToken(request.method) else { throw .invalidRequest(url: request.url, reason: "bad method \"\(request.method)\"") }
        var text = "\(request.method) \(url.target) HTTP/1.1\r\n"
        for (name, value) in headers {
            guard isToken(name), !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else {
                throw .invalidRequest(url: request.url, reason: "bad header \"\(name)\"")
            }
            text += "\(name): \(value)\r\n"
        }
        text += "\r\n"
        return Array(text.utf8) + request.body
    }
}
