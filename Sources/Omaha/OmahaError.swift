/// Why an Omaha request or response was refused.
public struct OmahaError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Not well-formed XML (update_engine's error 31 for a response); `line` and `column` say where.
        case malformedXML
        /// Well-formed, but not an Omaha 3.0 request: another root element or protocol.
        case unsupportedProtocol
        /// An `<app>` without an `appid`.
        case invalidAppID
        /// A required element or attribute is missing or not what it must be (update_engine's
        /// error 34, "Omaha response invalid", for a response).
        case invalidContent
    }

    public let kind: Kind
    public let message: String
    /// Where the XML reader stopped, when `kind` is `.malformedXML`.
    public let line: Int?
    public let column: Int?

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
        line = nil
        column = nil
    }

    public init(_ error: XMLError) {
        kind = .malformedXML
        message = error.message
        line = error.line
        column = error.column
    }

    /// What a server answers in `app@status`. Omaha has no status for "this is not a request", and
    /// a client that sent one does not speak the protocol the server does, so every refusal but a
    /// missing app ID is `error-unsupportedProtocol`.
    public var status: String {
        kind == .invalidAppID ? OmahaStatus.invalidAppID : OmahaStatus.unsupportedProtocol
    }

    public var description: String {
        guard let line, let column else { return message }
        return XMLError(line: line, column: column, message: message).description
    }
}
