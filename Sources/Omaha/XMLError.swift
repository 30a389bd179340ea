/// Why a document was refused, at the 1-based line and column (counted in Unicode scalars) where
/// the offending construct starts, so that a log line points at the byte a client got wrong.
public struct XMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public let message: String

    public var description: String { "line \(line), column \(column): \(message)" }
}
