import Foundation

/// A value bound to or read from a statement. Integers and text only: both stores hold them
/// exactly, so a value written through SQLite reads back the same through PostgreSQL.
public enum SQLValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case integer(Int64)
    case text(String)

    public init(_ value: Int) { self = .integer(Int64(value)) }
    public init(_ value: Int64) { self = .integer(value) }
    public init(_ value: String) { self = .text(value) }
    public init(_ value: Int64?) { self = value.map(SQLValue.integer) ?? .null }
    public init(_ value: String?) { self = value.map(SQLValue.text) ?? .null }

    public var description: String {
        switch self {
        case .null: "NULL"
        case .integer(let value): String(value)
        case .text(let value): "'\(value.replacingOccurrences(of: "'", with: "''"))'"
        }
    }
}

extension SQLValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(stringLiteral value: String) { self = .text(value) }
}

/// One row of a result: its values by column name, as the statement named them (`AS name`).
public struct SQLRow: Sendable, Hashable {
    public let columns: [String]
    public let values: [SQLValue]
    /// Which database the row came from, for the errors below.
    let database: String

    init(columns: [String], values: [SQLValue], database: String) {
        self.columns = columns
        self.values = values
        self.database = database
    }

    /// The value of `column`; throws when the statement has no such column.
    public subscript(_ column: String) -> SQLValue {
        get throws {
            guard let index = columns.firstIndex(of: column) else {
                throw DatabaseError(database: database, "the result has no column \"\(column)\" (it has \(columns.map { "\"\($0)\"" }.joined(separator: ", ")))")
            }
            return values[index]
        }
    }

    public func integer(_ column: String) throws -> Int64 {
        guard let value = try optionalInteger(column) else { throw wrongType(column, expected: "an integer", found: .null) }
        return value
    }

    public func text(_ column: String) throws -> String {
        guard let value = try optionalText(column) else { throw wrongType(column, expected: "text", found: .null) }
        return value
    }

    /// The integer in `column`, nil when it is NULL.
    public func optionalInteger(_ column: String) throws -> Int64? {
        switch try self[column] {
        case .null: nil
        case .integer(let value): value
        case let other: throw wrongType(column, expected: "an integer", found: other)
        }
    }

    /// The text in `column`, nil when it is NULL.
    public func optionalText(_ column: String) throws -> String? {
        switch try self[column] {
        case .null: nil
        case .text(let value): value
        case let other: throw wrongType(column, expected: "text", found: other)
        }
    }

    private func wrongType(_ column: String, expected: String, found: SQLValue) -> DatabaseError {
        let shown = found.description.count > 80 ? String(found.description.prefix(80)) + "…" : found.description
        return DatabaseError(database: database, "column \"\(column)\" holds \(shown), expected \(expected)")
    }
}
