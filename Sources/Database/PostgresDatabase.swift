import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The shared store: a PostgreSQL database, reached through a pool of connections that
/// PostgresNIO's client keeps (up to 20). Each transaction leases one connection for its whole
/// run, at READ COMMITTED: callers lock the rows they decide on with `dialect.rowLock`.
public final class PostgresDatabase: SQLDatabase {
    public let dialect = SQLDialect.postgres
    public let description: String
    private let client: PostgresClient
    /// Runs the client's connection pool until `close()`.
    private let running: Task<Void, Never>
    private let password: String?
    private let isClosed = Mutex(false)
    private static let silent = Logger(label: "coresdk.database.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Connects to the database at `url` once to report a wrong address, user, password or
    /// database now, with the server's reason (the pool would only retry quietly), then starts
    /// the pool.
    public init(url: String) async throws {
        let location = try PostgresLocation(url: url)
        description = location.label
        password = location.password
        do {
            let probe = try await PostgresConnection.connect(configuration: location.connectionConfiguration(), id: 0, logger: Self.silent)
            try await probe.close()
        } catch {
            throw Self.failure(error, database: location.label, password: location.password, statement: nil)
        }
        let client = PostgresClient(configuration: location.clientConfiguration)
        self.client = client
        running = Task { await client.run() }
    }

    deinit { running.cancel() }

    @discardableResult
    public func transaction<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        try TransactionRunner.refuseNesting(in: self, label: description)
        // The pool, once shut down, says so only in an error type of a module it keeps internal.
        guard !isClosed.withLock({ $0 }) else { throw DatabaseError(database: description, "the database was closed") }
        do {
            return try await client.withConnection { connection in
                do {
                    return try await TransactionRunner.run(in: self, label: description, TransactionRunner.Steps(
                        begin: { try await self.run("BEGIN", [], on: connection) },
                        commit: { try await self.run("COMMIT", [], on: connection) },
                        rollback: {
                            // A connection that cannot roll back must not go back to the pool mid-transaction.
                            do { try await self.run("ROLLBACK", [], on: connection) } catch { try? await connection.close() }
                        }
                    ), connection: { PostgresTransactionConnection(database: self, connection: connection, state: $0) }, body)
                } catch {
                    throw TransactionFailure(error: error)
                }
            }
        } catch let passed as TransactionFailure {
            throw passed.error
        } catch {
            throw Self.failure(error, database: description, password: password, statement: nil)
        }
    }

    public func close() async throws {
        try TransactionRunner.refuseNesting(in: self, label: description)
        isClosed.withLock { $0 = true }
        running.cancel()
        await running.value
    }

    @discardableResult
    fileprivate func run(_ sql: String, _ bindings: [SQLValue], on connection: PostgresConnection) async throws -> PostgresQueryResult {
        var binds = PostgresBindings(capacity: bindings.count)
        for value in bindings {
            switch value {
            case .null: binds.appendNull()
            case .integer(let integer): binds.append(integer)
            case .text(let text): binds.append(text)
            }
        }
        // The future form: it also gives the command tag, whose count `execute` returns.
        let result: EventLoopFuture<PostgresQueryResult> = connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: Self.silent)
        do {
            return try await result.get()
        } catch {
            throw Self.failure(error, database: description, password: password, statement: sql)
        }
    }

    fileprivate func rows(of result: PostgresQueryResult, statement: String) throws -> [SQLRow] {
        guard let first = result.rows.first else { return [] }
        let columns = first.map(\.columnName)
        return try result.rows.map { row in
            SQLRow(columns: columns, values: try row.map { try value(of: $0, statement: statement) }, database: description)
        }
    }

    /// Integers and text as SQLValue; booleans as 1 and 0 and whole numerics (SUM of a BIGINT
    /// column) as integers, which is what SQLite returns for the same expressions.
    private func value(of cell: PostgresCell, statement: String) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        do {
            switch cell.dataType {
            case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
            case .text, .varchar, .name, .bpchar, .unknown: return .text(try cell.decode(String.self))
            case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
            case .numeric:
                let number = try cell.decode(Decimal.self)
                if let integer = Int64(number.description) { return .integer(integer) }
                throw DatabaseError(database: description, "column \"\(cell.columnName)\" holds the number \(number), which is not a 64-bit integer", statement: statement)
            default: break
            }
        } catch let error as DatabaseError {
            throw error
        } catch {
            throw DatabaseError(database: description, "column \"\(cell.columnName)\" could not be read as \(cell.dataType): \(error)", statement: statement)
        }
        throw DatabaseError(database: description, "column \"\(cell.columnName)\" has the type \(cell.dataType); only integers and text are supported (CAST it to BIGINT or TEXT)", statement: statement)
    }

    /// PostgresNIO's errors describe themselves vaguely on purpose; this takes the server's
    /// message (with its detail and hint) or the connection's reason, and never the password.
    private static func failure(_ error: any Error, database: String, password: String?, statement: String?) -> DatabaseError {
        var message: String
        var isConstraintViolation = false
        if let error = error as? PSQLError {
            if let server = error.serverInfo, let text = server[.message] {
                message = [text, server[.detail], server[.hint]].compactMap { $0 }.joined(separator: "; ")
                // SQLSTATE class 23: integrity constraint violation.
                isConstraintViolation = server[.sqlState]?.hasPrefix("23") ?? false
            } else if let underlying = error.underlying {
                message = error.code == .connectionError ? "cannot connect: \(reason(underlying))" : "\(error.code): \(reason(underlying))"
            } else {
                message = "\(error.code)"
            }
        } else {
            message = "\(error)"
        }
        // A few characters could also be part of the wording; PostgreSQL never repeats a password anyway.
        if let password, password.count >= 4 { message = message.replacingOccurrences(of: password, with: "<password>") }
        return DatabaseError(database: database, message, statement: statement, isConstraintViolation: isConstraintViolation)
    }
}

/// What a transaction threw, told apart from the pool's own errors (which are reworded).
/// The words of a socket error: "Connection refused", not NIO's "connection reset (error set):
/// Connection refused (errno: 111)".
private func reason(_ error: any Error) -> String {
    switch error {
    case let error as NIOConnectionError:
        if let dns = error.dnsAError ?? error.dnsAAAAError { return "cannot resolve \(error.host): \(dns)" }
        let reasons = error.connectionErrors.map { "\($0.target.ipAddress ?? "\($0.target)"): \(reason($0.error))" }
        return reasons.isEmpty ? "\(error)" : reasons.joined(separator: "; ")
    case let error as IOError:
        return String(cString: strerror(error.errnoCode))
    default:
        return "\(error)"
    }
}

private struct TransactionFailure: Error { let error: any Error }

private struct PostgresTransactionConnection: SQLConnection {
    let database: PostgresDatabase
    let connection: PostgresConnection
    let state: TransactionState

    func query(_ sql: String, _ bindings: [SQLValue]) async throws -> [SQLRow] {
        try await state.statement(sql) {
            try database.rows(of: try await database.run(sql, bindings, on: connection), statement: sql)
        }
    }

    func execute(_ sql: String, _ bindings: [SQLValue]) async throws -> Int {
        try await state.statement(sql) {
            let metadata = try await database.run(sql, bindings, on: connection).metadata
            // SELECT and FETCH also carry a count in their tag, of rows read rather than changed.
            return ["INSERT", "UPDATE", "DELETE"].contains(metadata.command) ? metadata.rows ?? 0 : 0
        }
    }
}
