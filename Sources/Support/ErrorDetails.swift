/// What a user needs to act on a failure: what went wrong, and where — a file (with the line and
/// column when the problem is at a place in it), a partition, a key. Every command prints it the
/// same way: as text, `file:line:column: partition: message`, and with `--json` as
/// `{"error": {"message", "file", "line", "column", "partition", "key"}}` without the fields that
/// do not apply.
public struct ErrorDetails: Sendable, Codable, Equatable, CustomStringConvertible {
    public var message: String
    /// The file at fault: an image, a payload, a recipe, a key file.
    public var file: String?
    /// 1-based, with `file`.
    public var line: Int?
    public var column: Int?
    /// "partition 3 (USR-A)".
    public var partition: String?
    /// A configuration key, or the signing key concerned.
    public var key: String?

    public init(message: String, file: String? = nil, line: Int? = nil, column: Int? = nil,
                partition: String? = nil, key: String? = nil) {
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.partition = partition
        self.key = key
    }

    public var description: String {
        let place = file.map { file in [file, line.map(String.init), column.map(String.init)].compactMap { $0 }.joined(separator: ":") }
        return [place, partition, message].compactMap { $0 }.joined(separator: ": ")
    }
}

/// An error that says what failed and where (see `ErrorDetails`); its text is the details' text.
public protocol ReportableError: Error, CustomStringConvertible {
    var details: ErrorDetails { get }
}

extension ReportableError {
    public var description: String { details.description }
}

/// A failure in coresdk's own code, worded for the user, with the file, partition or key it concerns.
public struct SupportError: ReportableError, Sendable {
    public let details: ErrorDetails

    public init(_ message: String) { details = ErrorDetails(message: message) }

    public init(file: String, line: Int? = nil, column: Int? = nil, _ message: String) {
        details = ErrorDetails(message: message, file: file, line: line, column: column)
    }

    public init(file: String? = nil, partition: String, _ message: String) {
        details = ErrorDetails(message: message, file: file, partition: partition)
    }

    public init(file: String? = nil, key: String, _ message: String) {
        details = ErrorDetails(message: message, file: file, key: key)
    }
}

extension CommandFailure: ReportableError {
    public var details: ErrorDetails { ErrorDetails(message: summary) }
}
