import HTTPFetch

public enum EtcdError: Error, CustomStringConvertible {
    /// No endpoint could be reached; each one's failure, in the order tried.
    case unavailable([HTTPError])
    /// The request failed in a way another endpoint would not fix (a malformed answer, a bad URL).
    case transport(HTTPError)
    /// etcd refused the request, with its own message (`etcdserver: requested lease not found`).
    case server(url: String, status: Int, message: String)
    /// etcd answered 200 with JSON that lacks what the call needs.
    case malformedResponse(url: String, reason: String)
    /// A keepalive found the lease gone: it expired or was revoked.
    case leaseNotFound(Int64)

    public var description: String {
        switch self {
        case .unavailable(let failures): "no etcd endpoint is reachable: " + failures.map(\.description).joined(separator: "; ")
        case .transport(let error): "etcd: \(error)"
        case .server(let url, let status, let message): "etcd at \(url) refused the request (HTTP \(status)): \(message)"
        case .malformedResponse(let url, let reason): "etcd at \(url) answered unexpectedly: \(reason)"
        case .leaseNotFound(let id): "etcd lease \(id) has expired or was revoked"
        }
    }
}
