/// Why a request failed, in the groups a caller acts on differently: the request itself is wrong,
/// the network is not there (resolve, connect, a connection lost or too slow: worth a retry, see
/// `isTransient`), the server answered with an unwanted status, or the answer is not HTTP.
public enum HTTPError: Error, Equatable, CustomStringConvertible {
    /// The URL or a header cannot be sent: not `http://`, no host, a bad port, CR/LF in a header.
    case invalidRequest(url: String, reason: String)
    /// The host name does not resolve (no network, no DNS, or no such name).
    case resolveFailed(host: String, reason: String)
    /// No address of the host accepted a connection (refused, unreachable).
    case connectFailed(host: String, port: Int, reason: String)
    /// The connection broke before the response was complete.
    case connectionLost(url: String, reason: String)
    /// Connecting took longer than the connect timeout, or the transfer stayed below the low-speed limit.
    case timedOut(url: String, reason: String)
    /// The server answered with a status the operation cannot use (a download wants 200 or 206).
    case status(Int, url: String)
    /// The answer is not HTTP/1.x as RFC 9112 writes it, or exceeds the header size limit.
    case malformedResponse(url: String, reason: String)
    case bodyTooLarge(url: String, limit: Int)
    case tooManyRedirects(url: String, limit: Int)
    /// A download's file cannot be opened, written or truncated.
    case file(path: String, reason: String)
    /// A download's size differs from the expected one.
    case sizeMismatch(url: String, expected: UInt64, actual: UInt64)

    /// No network, a lost connection or a timeout: another attempt may succeed.
    public var isTransient: Bool {
        switch self {
        case .resolveFailed, .connectFailed, .connectionLost, .timedOut: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .invalidRequest(let url, let reason): "cannot request \(url): \(reason)"
        case .resolveFailed(let host, let reason): "cannot resolve \(host): \(reason) (is the network up?)"
        case .connectFailed(let host, let port, let reason): "cannot connect to \(host):\(port): \(reason)"
        case .connectionLost(let url, let reason): "connection to \(url) lost: \(reason)"
        case .timedOut(let url, let reason): "\(url) timed out: \(reason)"
        case .status(let status, let url): "\(url) answered HTTP status \(status)"
        case .malformedResponse(let url, let reason): "malformed response from \(url): \(reason)"
        case .bodyTooLarge(let url, let limit): "the response from \(url) is larger than \(limit) bytes"
        case .tooManyRedirects(let url, let limit): "more than \(limit) redirects, the last to \(url)"
        case .file(let path, let reason): "\(path): \(reason)"
        case .sizeMismatch(let url, let expected, let actual): "\(url) has \(actual) bytes, expected \(expected)"
        }
    }
}
