import Foundation

/// A failure of a database, worded for the user: which database (the SQLite file, or the
/// PostgreSQL user@host:port/database — never its password), what the database said, and the
/// statement it said it about.
public struct DatabaseError: Error, Sendable, CustomStringConvertible {
    /// "SQLite /var/lib/coresdk/server.db" or "PostgreSQL coresdk@db.example:5432/updates".
    public let database: String
    /// The reason, as the database library or server gave it.
    public let message: String
    /// The SQL text concerned (its placeholders, not the bound values).
    public let statement: String?
    /// A UNIQUE, NOT NULL, CHECK or FOREIGN KEY constraint refused the statement: the caller
    /// usually reports a conflict rather than a failure.
    public let isConstraintViolation: Bool

    public init(database: String, _ message: String, statement: String? = nil, isConstraintViolation: Bool = false) {
        self.database = database
        self.message = message
        self.statement = statement
        self.isConstraintViolation = isConstraintViolation
    }

    public var description: String {
        guard let statement else { return "\(database): \(message)" }
        let oneLine = statement.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        let shown = oneLine.count > 200 ? String(oneLine.prefix(200)) + "…" : oneLine
        return "\(database): \(message) (in: \(shown))"
    }
}
